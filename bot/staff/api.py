"""The staff JSON API under /staff/api (documented in bot/staff/openapi.json, served at
/staff/api/openapi.json). Session cookie + CSRF header on every state change.

Every database call goes through `asyncio.to_thread` (password checks through their own
workers): the API shares the event loop with every resident's conversation."""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
from asyncio import to_thread
from functools import wraps
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, overload

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.apidoc import AUTHENTICATION, OBJECT, Answer, ApiInfo, Parameter, Refusal, failure, operation
from bot.errors import error_response
from bot.handoff import tracker as conversation
from bot.handoff.hub import CLOSED
from bot.handoff.machine import ASSIGNED, CALLBACK, HandoffError
from bot.handoff.slips import Slips
from bot.redaction import mask_phone_numbers, scrub
from bot.replies import to_message
from bot.services import services_of
from bot.sse import KEEPALIVE, open_stream, server_busy
from bot.sse import event as sse_event
from bot.staff.accounts import Principal, in_password_worker
from bot.staff.bodies import (
    MAX_NOTE_CHARS,
    MAX_REPLY_CHARS,
    CallbackDone,
    ClosingNote,
    Delivered,
    Done,
    LoggedIn,
    Login,
    Me,
    SessionState,
    StaffMessage,
    Transfer,
)
from bot.staff.context import staff_of
from bot.staff.cookies import SessionCookie
from bot.text import LANGUAGES

logger = logging.getLogger(__name__)
CSRF_HEADER = "X-CSRF-Token"
STREAM_RECHECK_SECONDS = 5  # an open live stream re-checks its session at least this often
KEEP_ALIVE: Dict[str, Any] = {"type": "keep-alive"}  # sentinel: no event within the re-check interval
CALLBACK_PURGE_SECONDS = 3600  # at most this long between purges (or a quarter of the TTL); also on every read
OPENAPI_PATH = Path(__file__).with_name("openapi.json")

STAFF_API = ApiInfo(
    title="madoguchi staff API", prefix="/staff/api", cookie="madoguchi_staff",
    description="Counter staff console API. Log in to get a session cookie and a CSRF token; send the token in "
                "X-CSRF-Token on every POST. The cookie is madoguchi_staff (path /staff) over plain HTTP, and "
                "__Host-madoguchi_staff (path /, Secure) when MADOGUCHI_PUBLIC_URL is https. Wrong logins are "
                "throttled per account and per address (429 with Retry-After). Every read and write of a "
                "conversation is written to the audit log. My Number and PIN redaction applies to everything "
                "returned. Errors are {\"error\": code, \"message\": sentence}; a body of the wrong type or size "
                "is refused with the status the operation lists, naming the field (\"field\").",
    not_logged_in="Not logged in (not_logged_in)",
    forbidden="Wrong role (forbidden) or missing/wrong CSRF token (csrf)")
CONVERSATION_ID = Parameter("cid", "path", {"type": "string"}, "conversation (sender) id")
STATE_CHANGE = {200: Answer("The handoff after the change", OBJECT),
                404: failure("No such conversation"),
                409: failure("Not in a state that allows this (e.g. already claimed) (conflict)")}
LOGIN_ANSWERS = {
    200: Answer("Logged in", LoggedIn),
    400: failure("username and password (texts, at most 64 and 1024 characters) are required (invalid_login, "
                 "with field)"),
    401: failure("Wrong username or password (invalid_login)"),
    429: failure("Too many failed logins for this account or address: wait Retry-After seconds (too_many_attempts; "
                 "audited as login.throttled)",
                 **{"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}),
}


def authenticated(role: Optional[str] = None) -> Callable:
    """401 without a session, 403 for the wrong role or a missing/wrong CSRF token on writes."""

    def decorator(handler: Callable) -> Callable:
        @wraps(handler)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            staff = staff_of(request.app)
            token = SessionCookie.of(request).read(request)
            principal = await to_thread(staff.accounts.principal, token)
            if principal is None:
                return error_response(401, "not_logged_in", "Please log in.")
            if role == "admin" and not principal.is_admin:
                return error_response(403, "forbidden", "This needs the admin role.")
            if request.method not in ("GET", "HEAD") and not csrf_matches(request, principal):
                return error_response(403, "csrf", "Missing or wrong CSRF token.")
            request.ctx.principal = principal
            request.ctx.session_token = token
            return await handler(request, *args, **kwargs)

        setattr(wrapper, AUTHENTICATION, role or "")  # the OpenAPI document's security and 401/403 (bot/apidoc.py)
        return wrapper

    return decorator


async def log_in(request: Request, body: Login, cookie: SessionCookie, console: Optional[str] = None) -> HTTPResponse:
    """The one login of both consoles: throttled per account and address, bcrypt in its own
    workers, audited, answered with a session and the console's own cookie."""
    username, password = body.username, body.password
    staff = staff_of(request.app)
    address = request.remote_addr or request.ip
    refusal = staff.throttle.attempt(username, address)
    if refusal is not None:
        if refusal.first:  # once per block, so a flood cannot flood the audit log too
            await to_thread(staff.audit.record, username[:64], "login.throttled", None,
                            {"by": refusal.by, "retry_after": refusal.retry_after})
        return error_response(429, "too_many_attempts",
                              f"Too many failed logins. Try again in {refusal.retry_after} s.",
                              headers={"Retry-After": str(refusal.retry_after)})
    account = await in_password_worker(staff.accounts.authenticate, username, password)
    if account is None:
        await to_thread(staff.audit.record, username[:64], "login.failed")
        return error_response(401, "invalid_login", "Wrong username or password.")
    staff.throttle.succeeded(username, address)
    token, csrf = await to_thread(staff.accounts.open_session, account)
    await to_thread(staff.audit.record, account.username, "login", None, {"console": console} if console else None)
    reply = response.json({"csrf_token": csrf, "user": {"username": account.username, "role": account.role,
                                                        "display_name": account.display_name}})
    cookie.set(reply, token)
    return reply


def csrf_matches(request: Request, principal: Principal) -> bool:
    """Constant-time comparison, so response timing does not leak the token byte by byte."""
    sent = request.headers.get(CSRF_HEADER) or ""
    return hmac.compare_digest(sent.encode("utf-8"), principal.csrf_token.encode("utf-8"))


def may_see_callback(principal: Principal, section: str) -> bool:
    """A call-back's phone number is for its own section's clerks (and admins) only."""
    return principal.is_admin or principal.section == section


@overload
def clean(text: str, from_resident: bool = True) -> str: ...
@overload
def clean(text: Optional[str], from_resident: bool = True) -> Optional[str]: ...


def clean(text: Optional[str], from_resident: bool = True) -> Optional[str]:
    """Redaction (inbound's own rules) applies to everything staff see, even events stored
    before a rule change; a resident's phone numbers are masked too, the bot's and staff's not."""
    if not isinstance(text, str):
        return text
    return mask_phone_numbers(scrub(text)) if from_resident else scrub(text)


def entry_json(entry, names: Dict[int, str]) -> Dict[str, Any]:
    summary = dict(entry.summary)
    summary["last_messages"] = [clean(m) for m in summary.get("last_messages", [])]
    return {
        "conversation_id": entry.conversation_id, "channel": entry.channel, "state": entry.state,
        "section": entry.section, "language": entry.language, "reason": entry.reason,
        "waiting_seconds": entry.waiting_seconds, "summary": summary,
        "assigned_to": names.get(entry.assigned_to) if entry.assigned_to else None,
    }


async def finish(request: Request, action: str, entry, detail: Optional[Dict[str, Any]] = None) -> HTTPResponse:
    """After a state change: audit it, refresh every console and queued resident, answer."""
    staff = staff_of(request.app)
    await to_thread(staff.audit.record, request.ctx.principal.username, action, entry.conversation_id, detail)
    await staff.queue_changed(entry.section)
    return response.json(entry_json(entry, await to_thread(staff.names)))


async def purge_callbacks_periodically(app: Any) -> None:
    """Call-back numbers past MADOGUCHI_CALLBACK_TTL go even when nobody opens the console."""
    staff = staff_of(app)
    interval = min(CALLBACK_PURGE_SECONDS, max(1, services_of(app).settings.callback_ttl_seconds // 4))
    while True:
        try:
            expired = await to_thread(staff.handoffs.purge_expired_callbacks)
            for conversation_id in expired:
                await to_thread(staff.audit.record, "system", "callback.expired", conversation_id)
            if expired:
                staff.hub.publish({"type": "queue_changed", "section": None})
        except Exception:  # a database hiccup must not end the purging for good
            logger.exception("purging expired call-backs failed")
        await asyncio.sleep(interval)


def staff_blueprint() -> Blueprint:
    bp = Blueprint("madoguchi_staff_api", url_prefix="/staff/api")
    openapi_document = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))  # read once, at start-up

    purgers: List["asyncio.Task[None]"] = []  # the call-back purge of the server running this blueprint

    @bp.listener("after_server_start")
    async def start_purging(app: Any, _loop: Any) -> None:
        purgers.append(asyncio.get_running_loop().create_task(purge_callbacks_periodically(app)))

    @bp.listener("before_server_stop")
    async def stop_purging(app: Any, _loop: Any) -> None:
        while purgers:
            purgers.pop().cancel()

    @bp.get("/openapi.json")
    @operation("This document", tags=["meta"],
               answers={200: Answer("The OpenAPI document of the staff API (generated by madoguchi openapi)", OBJECT)})
    async def openapi(_: Request) -> HTTPResponse:
        return response.json(openapi_document)

    @bp.post("/login")
    @operation("Log in; sets the session cookie and returns the CSRF token", tags=["session"], body=Login,
               refused=Refusal(400, "invalid_login"), answers=LOGIN_ANSWERS)
    async def login(request: Request, body: Login) -> HTTPResponse:
        return await log_in(request, body, SessionCookie.of(request))

    @bp.post("/logout")
    @authenticated()
    @operation("Log out", tags=["session"], answers={200: Answer("Logged out", Done)})
    async def logout(request: Request) -> HTTPResponse:
        staff = staff_of(request.app)
        await to_thread(staff.accounts.close_session, request.ctx.session_token)
        staff.streams.close_session(request.ctx.session_token)
        await to_thread(staff.audit.record, request.ctx.principal.username, "logout")
        reply = response.json({"ok": True})
        SessionCookie.of(request).delete(reply)
        return reply

    @bp.get("/session")
    @operation("Whether this browser has a session (always 200)", tags=["session"],
               answers={200: Answer("logged_in, and csrf_token and user when logged in", SessionState)})
    async def session(request: Request) -> HTTPResponse:
        """Whether this browser is logged in (200 either way, so the page can ask at load)."""
        token = SessionCookie.of(request).read(request)
        p = await to_thread(staff_of(request.app).accounts.principal, token)
        if p is None:
            return response.json({"logged_in": False})
        return response.json({"logged_in": True, "csrf_token": p.csrf_token, "user": {
            "username": p.username, "display_name": p.display_name, "role": p.role, "section": p.section}})

    @bp.get("/me")
    @authenticated()
    @operation("The logged-in account", tags=["session"], answers={200: Answer("The account", Me)})
    async def me(request: Request) -> HTTPResponse:
        p: Principal = request.ctx.principal
        return response.json({"username": p.username, "display_name": p.display_name, "role": p.role,
                              "section": p.section, "csrf_token": p.csrf_token})

    @bp.get("/queue")
    @authenticated()
    @operation("Queued, assigned and callback conversations with channel, language, waiting time and summary",
               tags=["queue"], parameters=[Parameter("section")], answers={200: Answer("The queue", OBJECT)})
    async def queue(request: Request) -> HTTPResponse:
        staff = staff_of(request.app)
        await to_thread(staff.audit.record, request.ctx.principal.username, "queue.read")
        names = await to_thread(staff.names)
        entries = await to_thread(staff.handoffs.queue, request.args.get("section"))
        return response.json({"queue": [entry_json(e, names) for e in entries]})

    @bp.get("/events")
    @authenticated()
    @operation("Server-sent events: queue_changed, message — ends when the session is logged out, expires or the "
               "account is deactivated; opening it is audited (stream.open)", tags=["queue"],
               answers={200: Answer("The event stream", {"type": "string"}, content_type="text/event-stream"),
                        503: failure("Too many live streams are open (too_many_streams): retry after Retry-After")})
    async def events(request: Request) -> HTTPResponse:
        """Server-sent events: queue changes and resident messages, for the live console.

        The stream is only as good as its session: it is re-checked every few seconds and
        before each event, and logging out ends the session's streams at once."""
        staff = staff_of(request.app)
        token = request.ctx.session_token
        slots = services_of(request.app).sse_slots  # one cap for resident pages and staff consoles
        if not slots.acquire():
            return server_busy()
        try:
            await to_thread(staff.audit.record, request.ctx.principal.username, "stream.open")
        except Exception:
            slots.release()
            raise
        subscription = staff.streams.open(token)
        try:
            stream = await open_stream(request)
            await stream.send(": connected\n\n")
            while True:
                try:
                    event = await asyncio.wait_for(subscription.get(), timeout=STREAM_RECHECK_SECONDS)
                except asyncio.TimeoutError:
                    event = KEEP_ALIVE
                if event is CLOSED or await to_thread(staff.accounts.principal, token) is None:
                    break  # logged out, expired or deactivated: not one more event
                if event is KEEP_ALIVE:
                    await stream.send(KEEPALIVE)
                    continue
                event = dict(event, text=clean(event.get("text")))
                await stream.send(sse_event(event["type"], event))
        finally:
            slots.release()
            staff.streams.release(token, subscription)
        return stream

    # Conversation ids carry their channel's namespace (`telegram:…`), and browsers send `:` as
    # %3A: Sanic decodes path parameters only for routes with unquote=True.
    @bp.get("/conversations/<cid>", unquote=True)
    @authenticated()
    @operation("Handoff state and transcript (audited)", tags=["conversations"], parameters=[CONVERSATION_ID],
               answers={200: Answer("The handoff (or null) and the transcript", OBJECT),
                        404: failure("No such conversation")})
    async def read_conversation(request: Request, cid: str) -> HTTPResponse:
        staff = staff_of(request.app)
        entry = await to_thread(staff.handoffs.get, cid)
        lines = await conversation.transcript(services_of(request.app).agent.running(), cid)
        if entry is None and not lines:
            return error_response(404, "not_found", "No such conversation.")
        await to_thread(staff.audit.record, request.ctx.principal.username, "conversation.read", cid)
        for line in lines:
            line["text"] = clean(line.get("text"), from_resident=line.get("from") == "resident")
        handoff = entry_json(entry, await to_thread(staff.names)) if entry else None
        return response.json({"handoff": handoff, "transcript": lines})

    @bp.post("/conversations/<cid>/claim", unquote=True)
    @authenticated()
    @operation("Claim a queued conversation (atomic: one clerk wins, others get 409)", tags=["conversations"],
               parameters=[CONVERSATION_ID], answers=STATE_CHANGE)
    async def claim(request: Request, cid: str) -> HTTPResponse:
        staff = staff_of(request.app)
        p: Principal = request.ctx.principal
        entry = await to_thread(staff.handoffs.claim, cid, p.account_id)
        joined = (await staff.builder(entry.language)).phrase("staff_joined", name=p.display_name)
        await staff.deliver(entry, joined)
        return await finish(request, "conversation.claim", entry)

    @bp.post("/conversations/<cid>/pull", unquote=True)
    @authenticated()
    @operation("Take over a conversation the bot is handling", tags=["conversations"], parameters=[CONVERSATION_ID],
               answers=STATE_CHANGE)
    async def pull(request: Request, cid: str) -> HTTPResponse:
        """Take over a conversation the bot is handling."""
        staff = staff_of(request.app)
        p: Principal = request.ctx.principal
        tracker = await services_of(request.app).agent.running().tracker_store.retrieve(cid)
        if tracker is None:
            return error_response(404, "not_found", "No such conversation.")
        language = tracker.get_slot("language") or "ja"
        procedure = tracker.get_slot("procedure")
        section = (await staff.catalogs.current()).counter_for(procedure).id
        said = [clean(e.text) for e in tracker.events if e.type_name == "user" and e.text][-5:]
        entry = await to_thread(staff.handoffs.pull, cid, tracker.get_latest_input_channel() or "rest", p.account_id,
                                section, language, {"procedure": procedure, "language": language,
                                                    "reason": "staff_pull", "last_messages": said})
        await conversation.pause(services_of(request.app).agent.running(), cid)
        joined = (await staff.builder(language)).phrase("staff_joined", name=p.display_name)
        await staff.deliver(entry, joined)
        return await finish(request, "conversation.pull", entry)

    @bp.post("/conversations/<cid>/messages", unquote=True)
    @authenticated()
    @operation("Reply; delivered on the resident's own channel", tags=["conversations"], parameters=[CONVERSATION_ID],
               body=StaffMessage, refused=Refusal(400, "empty_message"), too_big=Refusal(413, "message_too_long"),
               answers={200: Answer("Sent", Delivered),
                        400: failure("text (a non-blank text) is required (empty_message, with field)"),
                        403: failure("The conversation is assigned to someone else (not_yours), or a missing/wrong "
                                     "CSRF token (csrf)"),
                        404: failure("No such conversation"),
                        409: failure("Claim the conversation before replying (not_assigned)"),
                        413: failure(f"The reply is longer than {MAX_REPLY_CHARS} characters (message_too_long), or "
                                     f"the body is over the server's cap (body_too_large)")})
    async def reply(request: Request, cid: str, body: StaffMessage) -> HTTPResponse:
        staff = staff_of(request.app)
        p: Principal = request.ctx.principal
        text = body.text
        entry = await to_thread(staff.handoffs.get, cid)
        if entry is None or entry.state != ASSIGNED:
            return error_response(409, "not_assigned", "Claim the conversation before replying.")
        if entry.assigned_to != p.account_id and not p.is_admin:
            return error_response(403, "not_yours", "This conversation is assigned to someone else.")
        delivered = await staff.deliver(entry, clean(text, from_resident=False),
                                        staff_name=p.display_name)
        await to_thread(staff.audit.record, p.username, "conversation.reply", cid,
                        {"chars": len(text), "delivered": delivered})
        return response.json({"ok": True, "delivered": delivered})

    @bp.post("/conversations/<cid>/handback", unquote=True)
    @authenticated()
    @operation("Hand the conversation back to the bot", tags=["conversations"], parameters=[CONVERSATION_ID],
               answers=STATE_CHANGE)
    async def handback(request: Request, cid: str) -> HTTPResponse:
        staff = staff_of(request.app)
        p: Principal = request.ctx.principal
        entry = await to_thread(staff.handoffs.handback, cid, None if p.is_admin else p.account_id)
        message = await staff.message(entry.language, "staff_handback")
        await conversation.resume(services_of(request.app).agent.running(), cid, message)
        await services_of(request.app).delivery.deliver(entry.channel, cid, message)
        return await finish(request, "conversation.handback", entry)

    @bp.post("/conversations/<cid>/close", unquote=True)
    @authenticated()
    @operation("Close with a note; the resident gets a satisfaction question", tags=["conversations"],
               parameters=[CONVERSATION_ID], body=ClosingNote, refused=Refusal(400, "note_required"),
               too_big=Refusal(413, "note_too_long"),
               answers={**STATE_CHANGE, 400: failure("A closing note (a non-blank text) is required (note_required, "
                                                     "with field)"),
                        413: failure("The note is too long (note_too_long), or the body is over the server's cap "
                                     "(body_too_large)")})
    async def close(request: Request, cid: str, body: ClosingNote) -> HTTPResponse:
        staff = staff_of(request.app)
        p: Principal = request.ctx.principal
        note = body.note
        entry = await to_thread(staff.handoffs.close, cid, clean(note), None if p.is_admin else p.account_id)
        goodbye = await staff.message(entry.language, "staff_closed")
        question = to_message((await staff.builder(entry.language)).satisfaction_question(), entry.language)
        await conversation.resume(services_of(request.app).agent.running(), cid, goodbye)
        await conversation.append_bot_message(services_of(request.app).agent.running(), cid, question)
        for message in (goodbye, question):
            await services_of(request.app).delivery.deliver(entry.channel, cid, message)
        return await finish(request, "conversation.close", entry, {"note_chars": len(note)})

    @bp.post("/conversations/<cid>/transfer", unquote=True)
    @authenticated()
    @operation("Transfer to another section's queue", tags=["conversations"], parameters=[CONVERSATION_ID],
               body=Transfer, refused=Refusal(400, "unknown_section"),
               answers={**STATE_CHANGE, 400: failure("Unknown section (unknown_section)")})
    async def transfer(request: Request, cid: str, body: Transfer) -> HTTPResponse:
        staff = staff_of(request.app)
        p: Principal = request.ctx.principal
        section = body.section
        counters = (await staff.catalogs.current()).counters
        if section not in counters:
            return error_response(400, "unknown_section", f"section must be one of {', '.join(counters)}",
                                  field="section")
        before = await to_thread(staff.handoffs.get, cid)
        entry = await to_thread(staff.handoffs.transfer, cid, section, None if p.is_admin else p.account_id)
        counter = counters[section]
        builder = await staff.builder(entry.language)
        await staff.deliver(entry, builder.phrase("queue_joined", section=builder.t(counter.name)))
        if before is not None and before.section != section:
            await staff.queue_changed(before.section)
        return await finish(request, "conversation.transfer", entry, {"to": section})

    @bp.get("/conversations/<cid>/callback", unquote=True)
    @authenticated()
    @operation("The phone number of an after-hours callback request (audited); only for clerks of the section that "
               "owns the call-back and admins. Numbers are deleted when the call-back ends and after "
               "MADOGUCHI_CALLBACK_TTL", tags=["conversations"], parameters=[CONVERSATION_ID],
               answers={200: Answer("The phone number", OBJECT),
                        403: failure("The call-back belongs to another section (other_section; audited as "
                                     "callback.read_phone.denied)"),
                        404: failure("No callback request")})
    async def callback_phone(request: Request, cid: str) -> HTTPResponse:
        staff = staff_of(request.app)
        p: Principal = request.ctx.principal
        found = await to_thread(staff.handoffs.callback, cid)  # expired numbers are purged first
        if found is None:
            return error_response(404, "not_found", "No callback request for this conversation.")
        if not may_see_callback(p, found["section"]):
            await to_thread(staff.audit.record, p.username, "callback.read_phone.denied", cid,
                            {"section": found["section"]})
            return error_response(403, "other_section", "This call-back belongs to another section.")
        await to_thread(staff.audit.record, p.username, "callback.read_phone", cid)
        return response.json({"phone": found["phone"]})

    @bp.post("/conversations/<cid>/callback-done", unquote=True)
    @authenticated()
    @operation("Callback made: deletes the phone number and closes", tags=["conversations"],
               parameters=[CONVERSATION_ID], body=CallbackDone,
               answers={**STATE_CHANGE,
                        403: failure("The call-back belongs to another section (other_section), or a missing/wrong "
                                     "CSRF token (csrf)"),
                        422: failure("note is not a text of at most 2000 characters (invalid_body, with field)")})
    async def callback_done(request: Request, cid: str, body: CallbackDone) -> HTTPResponse:
        staff = staff_of(request.app)
        p: Principal = request.ctx.principal
        entry = await to_thread(staff.handoffs.get, cid)
        if entry is not None and entry.state == CALLBACK and not may_see_callback(p, entry.section):
            await to_thread(staff.audit.record, p.username, "callback.done.denied", cid, {"section": entry.section})
            return error_response(403, "other_section", "This call-back belongs to another section.")
        note = body.note or "callback done"
        entry = await to_thread(staff.handoffs.complete_callback, cid, clean(note)[:MAX_NOTE_CHARS])
        return await finish(request, "callback.done", entry)

    @bp.get("/canned")
    @authenticated()
    @operation("Canned replies from the catalog", tags=["catalog"],
               parameters=[Parameter("language", schema={"type": "string", "enum": list(LANGUAGES)},
                                     description="ja unless one of these")],
               answers={200: Answer("The canned replies", OBJECT)})
    async def canned(request: Request) -> HTTPResponse:
        language = request.args.get("language", "ja")
        language = language if language in LANGUAGES else "ja"
        staff = staff_of(request.app)
        phrases = (await staff.catalogs.current()).phrases
        items = [{"id": key, "text": (await staff.message(language, key))["text"]}
                 for key in sorted(k for k in phrases if k.startswith("canned_"))]
        return response.json({"canned": items})

    @bp.get("/sections")
    @authenticated()
    @operation("Sections (counters) for transfers", tags=["catalog"],
               answers={200: Answer("The sections", OBJECT)})
    async def sections(request: Request) -> HTTPResponse:
        counters = (await staff_of(request.app).catalogs.current()).counters
        return response.json({"sections": [{"id": cid, "name": c.name.ja, "place": c.place.ja}
                                           for cid, c in counters.items()]})

    @bp.get("/slips/<number>")
    @authenticated()
    @operation("Look up a visit slip by its number (audited)", tags=["slips"],
               parameters=[Parameter("number", "path", {"type": "string", "pattern": "^[0-9]{6}$"})],
               answers={200: Answer("The slip", OBJECT), 404: failure("No such slip")})
    async def slip(request: Request, number: str) -> HTTPResponse:
        staff = staff_of(request.app)
        found = await to_thread(Slips(staff.handoffs.db).lookup, number)
        if found is None:
            return error_response(404, "not_found", "No visit slip with this number.")
        await to_thread(staff.audit.record, request.ctx.principal.username, "slip.read", found["conversation_id"],
                        {"number": number})
        found["summary"] = clean(found.get("summary"))
        return response.json(found)

    @bp.get("/audit")
    @authenticated(role="admin")
    @operation("Audit log (admin only)", tags=["admin"], parameters=[Parameter("conversation_id")],
               answers={200: Answer("The audit entries", OBJECT)})
    async def audit(request: Request) -> HTTPResponse:
        staff = staff_of(request.app)
        entries = await to_thread(staff.audit.entries, request.args.get("conversation_id"))
        return response.json({"entries": entries})

    @bp.exception(HandoffError)
    async def handoff_error(request: Request, exception: HandoffError) -> HTTPResponse:
        return error_response(exception.status, "conflict" if exception.status == 409 else "handoff", str(exception))

    return bp
