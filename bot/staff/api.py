"""The staff JSON API under /staff/api (documented in bot/staff/openapi.json, served at
/staff/api/openapi.json). Session cookie + CSRF header on every state change."""
from __future__ import annotations

import asyncio
import json
import logging
from functools import wraps
from pathlib import Path
from typing import Any, Callable, Dict, Optional

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.actions.replies import to_message
from bot.actions.dialogue import current_catalog
from bot.handoff import tracker as conversation
from bot.handoff.machine import HandoffError
from bot.handoff.slips import Slips
from bot.redaction import mask_phone_numbers, scrub
from bot.staff.accounts import Principal

logger = logging.getLogger(__name__)
COOKIE = "madoguchi_staff"
CSRF_HEADER = "X-CSRF-Token"
MAX_REPLY_CHARS = 2000
OPENAPI_PATH = Path(__file__).with_name("openapi.json")


def error(status: int, code: str, message: str) -> HTTPResponse:
    return response.json({"error": code, "message": message}, status=status)


def body_of(request: Request) -> Dict[str, Any]:
    try:
        body = request.json
    except Exception:
        body = None
    return body if isinstance(body, dict) else {}


def authenticated(role: Optional[str] = None) -> Callable:
    """401 without a session, 403 for the wrong role or a missing/wrong CSRF token on writes."""

    def decorator(handler: Callable) -> Callable:
        @wraps(handler)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            staff = request.app.ctx.staff
            principal = staff.accounts.principal(request.cookies.get(COOKIE))
            if principal is None:
                return error(401, "not_logged_in", "Please log in.")
            if role == "admin" and not principal.is_admin:
                return error(403, "forbidden", "This needs the admin role.")
            if request.method not in ("GET", "HEAD") and request.headers.get(CSRF_HEADER) != principal.csrf_token:
                return error(403, "csrf", "Missing or wrong CSRF token.")
            request.ctx.principal = principal
            return await handler(request, *args, **kwargs)

        return wrapper

    return decorator


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
    staff = request.app.ctx.staff
    staff.audit.record(request.ctx.principal.username, action, entry.conversation_id, detail)
    await staff.queue_changed(request.app, entry.section)
    return response.json(entry_json(entry, staff.names()))


def staff_blueprint() -> Blueprint:
    bp = Blueprint("madoguchi_staff_api", url_prefix="/staff/api")

    @bp.get("/openapi.json")
    async def openapi(_: Request) -> HTTPResponse:
        return response.json(json.loads(OPENAPI_PATH.read_text(encoding="utf-8")))

    @bp.post("/login")
    async def login(request: Request) -> HTTPResponse:
        body = body_of(request)
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            return error(400, "invalid_login", "username and password are required.")
        staff = request.app.ctx.staff
        account = staff.accounts.authenticate(username, password)
        if account is None:
            staff.audit.record(username[:64], "login.failed")
            return error(401, "invalid_login", "Wrong username or password.")
        token, csrf = staff.accounts.open_session(account)
        staff.audit.record(account.username, "login")
        reply = response.json({"csrf_token": csrf, "user": {"username": account.username, "role": account.role,
                                                            "display_name": account.display_name}})
        reply.cookies[COOKIE] = token
        reply.cookies[COOKIE]["httponly"] = True
        reply.cookies[COOKIE]["samesite"] = "Strict"
        reply.cookies[COOKIE]["path"] = "/staff"
        reply.cookies[COOKIE]["max-age"] = 8 * 3600
        return reply

    @bp.post("/logout")
    @authenticated()
    async def logout(request: Request) -> HTTPResponse:
        request.app.ctx.staff.accounts.close_session(request.cookies.get(COOKIE))
        reply = response.json({"ok": True})
        del reply.cookies[COOKIE]
        return reply

    @bp.get("/session")
    async def session(request: Request) -> HTTPResponse:
        """Whether this browser is logged in (200 either way, so the page can ask at load)."""
        p = request.app.ctx.staff.accounts.principal(request.cookies.get(COOKIE))
        if p is None:
            return response.json({"logged_in": False})
        return response.json({"logged_in": True, "csrf_token": p.csrf_token, "user": {
            "username": p.username, "display_name": p.display_name, "role": p.role, "section": p.section}})

    @bp.get("/me")
    @authenticated()
    async def me(request: Request) -> HTTPResponse:
        p: Principal = request.ctx.principal
        return response.json({"username": p.username, "display_name": p.display_name, "role": p.role,
                              "section": p.section, "csrf_token": p.csrf_token})

    @bp.get("/queue")
    @authenticated()
    async def queue(request: Request) -> HTTPResponse:
        staff = request.app.ctx.staff
        staff.audit.record(request.ctx.principal.username, "queue.read")
        names = staff.names()
        return response.json({"queue": [entry_json(e, names) for e in staff.handoffs.queue(request.args.get("section"))]})

    @bp.get("/events")
    @authenticated()
    async def events(request: Request) -> HTTPResponse:
        """Server-sent events: queue changes and resident messages, for the live console."""
        hub = request.app.ctx.staff.hub
        subscription = hub.subscribe()
        stream = await request.respond(content_type="text/event-stream",
                                       headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        try:
            await stream.send(": connected\n\n")
            while True:
                try:
                    event = await asyncio.wait_for(subscription.get(), timeout=15)
                    event = dict(event, text=clean(event.get("text")))
                    await stream.send(f"event: {event['type']}\ndata: {json.dumps(event, ensure_ascii=False)}\n\n")
                except asyncio.TimeoutError:
                    await stream.send(": keep-alive\n\n")
        finally:
            hub.unsubscribe(subscription)
        return stream

    @bp.get("/conversations/<cid>")
    @authenticated()
    async def read_conversation(request: Request, cid: str) -> HTTPResponse:
        staff = request.app.ctx.staff
        entry = staff.handoffs.get(cid)
        lines = await conversation.transcript(request.app.ctx.agent, cid)
        if entry is None and not lines:
            return error(404, "not_found", "No such conversation.")
        staff.audit.record(request.ctx.principal.username, "conversation.read", cid)
        for line in lines:
            line["text"] = clean(line.get("text"), from_resident=line.get("from") == "resident")
        return response.json({"handoff": entry_json(entry, staff.names()) if entry else None, "transcript": lines})

    @bp.post("/conversations/<cid>/claim")
    @authenticated()
    async def claim(request: Request, cid: str) -> HTTPResponse:
        staff = request.app.ctx.staff
        p: Principal = request.ctx.principal
        entry = staff.handoffs.claim(cid, p.account_id)
        await staff.deliver(request.app, entry, staff.builder(entry.language).phrase("staff_joined", name=p.display_name))
        return await finish(request, "conversation.claim", entry)

    @bp.post("/conversations/<cid>/pull")
    @authenticated()
    async def pull(request: Request, cid: str) -> HTTPResponse:
        """Take over a conversation the bot is handling."""
        staff = request.app.ctx.staff
        p: Principal = request.ctx.principal
        tracker = await request.app.ctx.agent.tracker_store.retrieve(cid)
        if tracker is None:
            return error(404, "not_found", "No such conversation.")
        language = tracker.get_slot("language") or "ja"
        procedure = tracker.get_slot("procedure")
        catalog = current_catalog()
        section = catalog.procedures[procedure].section if procedure in catalog.procedures else "shimin"
        said = [clean(e.text) for e in tracker.events if e.type_name == "user" and e.text][-5:]
        entry = staff.handoffs.pull(cid, tracker.get_latest_input_channel() or "rest", p.account_id, section,
                                    language, {"procedure": procedure, "language": language, "reason": "staff_pull",
                                               "last_messages": said})
        await conversation.pause(request.app.ctx.agent, cid)
        await staff.deliver(request.app, entry, staff.builder(language).phrase("staff_joined", name=p.display_name))
        return await finish(request, "conversation.pull", entry)

    @bp.post("/conversations/<cid>/messages")
    @authenticated()
    async def reply(request: Request, cid: str) -> HTTPResponse:
        staff = request.app.ctx.staff
        p: Principal = request.ctx.principal
        text = body_of(request).get("text")
        if not isinstance(text, str) or not text.strip():
            return error(400, "empty_message", "text is required.")
        if len(text) > MAX_REPLY_CHARS:
            return error(413, "message_too_long", f"At most {MAX_REPLY_CHARS} characters.")
        entry = staff.handoffs.get(cid)
        if entry is None or entry.state != "assigned":
            return error(409, "not_assigned", "Claim the conversation before replying.")
        if entry.assigned_to != p.account_id and not p.is_admin:
            return error(403, "not_yours", "This conversation is assigned to someone else.")
        delivered = await staff.deliver(request.app, entry, clean(text.strip(), from_resident=False), staff_name=p.display_name)
        staff.audit.record(p.username, "conversation.reply", cid, {"chars": len(text), "delivered": delivered})
        return response.json({"ok": True, "delivered": delivered})

    @bp.post("/conversations/<cid>/handback")
    @authenticated()
    async def handback(request: Request, cid: str) -> HTTPResponse:
        staff = request.app.ctx.staff
        p: Principal = request.ctx.principal
        entry = staff.handoffs.handback(cid, None if p.is_admin else p.account_id)
        message = staff.message(entry.language, "staff_handback")
        await conversation.resume(request.app.ctx.agent, cid, message)
        await request.app.ctx.delivery.deliver(entry.channel, cid, message)
        return await finish(request, "conversation.handback", entry)

    @bp.post("/conversations/<cid>/close")
    @authenticated()
    async def close(request: Request, cid: str) -> HTTPResponse:
        staff = request.app.ctx.staff
        p: Principal = request.ctx.principal
        note = body_of(request).get("note")
        if not isinstance(note, str) or not note.strip():
            return error(400, "note_required", "A closing note is required.")
        entry = staff.handoffs.close(cid, clean(note.strip()), None if p.is_admin else p.account_id)
        goodbye = staff.message(entry.language, "staff_closed")
        question = to_message(staff.builder(entry.language).satisfaction_question(), entry.language)
        await conversation.resume(request.app.ctx.agent, cid, goodbye)
        await conversation.append_bot_message(request.app.ctx.agent, cid, question)
        for message in (goodbye, question):
            await request.app.ctx.delivery.deliver(entry.channel, cid, message)
        return await finish(request, "conversation.close", entry, {"note_chars": len(note)})

    @bp.post("/conversations/<cid>/transfer")
    @authenticated()
    async def transfer(request: Request, cid: str) -> HTTPResponse:
        staff = request.app.ctx.staff
        p: Principal = request.ctx.principal
        section = body_of(request).get("section")
        if section not in current_catalog().counters:
            return error(400, "unknown_section", f"section must be one of {', '.join(current_catalog().counters)}")
        before = staff.handoffs.get(cid)
        entry = staff.handoffs.transfer(cid, section, None if p.is_admin else p.account_id)
        counter = current_catalog().counters[section]
        builder = staff.builder(entry.language)
        await staff.deliver(request.app, entry, builder.phrase("queue_joined", section=builder.t(counter.name)))
        if before is not None and before.section != section:
            await staff.queue_changed(request.app, before.section)
        return await finish(request, "conversation.transfer", entry, {"to": section})

    @bp.get("/conversations/<cid>/callback")
    @authenticated()
    async def callback_phone(request: Request, cid: str) -> HTTPResponse:
        staff = request.app.ctx.staff
        phone = staff.handoffs.callback_phone(cid)
        if phone is None:
            return error(404, "not_found", "No callback request for this conversation.")
        staff.audit.record(request.ctx.principal.username, "callback.read_phone", cid)
        return response.json({"phone": phone})

    @bp.post("/conversations/<cid>/callback-done")
    @authenticated()
    async def callback_done(request: Request, cid: str) -> HTTPResponse:
        staff = request.app.ctx.staff
        note = body_of(request).get("note") or "callback done"
        entry = staff.handoffs.complete_callback(cid, clean(str(note))[:2000])
        return await finish(request, "callback.done", entry)

    @bp.get("/canned")
    @authenticated()
    async def canned(request: Request) -> HTTPResponse:
        language = request.args.get("language", "ja")
        language = language if language in ("ja", "en", "easy") else "ja"
        staff = request.app.ctx.staff
        items = [{"id": key, "text": staff.message(language, key)["text"]}
                 for key in sorted(k for k in current_catalog().phrases if k.startswith("canned_"))]
        return response.json({"canned": items})

    @bp.get("/sections")
    @authenticated()
    async def sections(request: Request) -> HTTPResponse:
        counters = current_catalog().counters
        return response.json({"sections": [{"id": cid, "name": c.name.ja, "place": c.place.ja}
                                           for cid, c in counters.items()]})

    @bp.get("/slips/<number>")
    @authenticated()
    async def slip(request: Request, number: str) -> HTTPResponse:
        staff = request.app.ctx.staff
        found = Slips(staff.handoffs.db).lookup(number)
        if found is None:
            return error(404, "not_found", "No visit slip with this number.")
        staff.audit.record(request.ctx.principal.username, "slip.read", found["conversation_id"], {"number": number})
        found["summary"] = clean(found.get("summary"))
        return response.json(found)

    @bp.get("/audit")
    @authenticated(role="admin")
    async def audit(request: Request) -> HTTPResponse:
        staff = request.app.ctx.staff
        return response.json({"entries": staff.audit.entries(request.args.get("conversation_id"))})

    @bp.exception(HandoffError)
    async def handoff_error(request: Request, exception: HandoffError) -> HTTPResponse:
        return error(exception.status, "conflict" if exception.status == 409 else "handoff", str(exception))

    return bp
