"""Property-based fuzzing over real HTTP: every channel's parser (REST, web, Telegram, LINE, phone)
and the staff and admin APIs get oversized, malformed, wrongly typed, binary and deeply nested
input, wrong content types, huge headers and random methods. Every answer is a clear 4xx or the
normal 200 (never a 5xx, never a hung connection: httpx's timeout fails the test); afterwards the
server log has no traceback and no database file or log holds any individual number the fuzzers
sent (valid check digits, in every written form, in every field).

Bounded: a few dozen examples per target, no deadline (the server is shared by a busy machine).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any, Dict, Optional
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from tests.fuzz.conftest import LINE_SECRET, PUBLIC_URL, TELEGRAM_SECRET, TWILIO_AUTH_TOKEN
from tests.fuzz.strategies import (
    SENT_NUMBERS,
    anything,
    content_types,
    header_values,
    hostile_texts,
    json_values,
    my_number_texts,
    path_segments,
    printable_ascii,
    raw_bodies,
    values_or_missing,
)
from tests.security.scan import hits, stored_files

TIMEOUT = httpx.Timeout(60, connect=10)  # a hung connection fails the example
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)
CHEAP = settings(FUZZ, max_examples=60)  # routes that never reach Rasa


def check(reply: httpx.Response) -> None:
    """A clear answer: below 500, and a refusal says something."""
    assert reply.status_code < 500, (reply.request.method, reply.request.url, reply.status_code, reply.text[:500])
    if reply.status_code >= 400 and reply.request.method != "HEAD":
        assert reply.content, (reply.request.url, reply.status_code)


def send(server, method: str, path: str, *, body: Optional[bytes] = None, json_body: Any = None,
         content_type: Optional[str] = None, headers: Optional[Dict[str, str]] = None,
         client: Optional[httpx.Client] = None) -> httpx.Response:
    all_headers = dict(headers or {})
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    if json_body is not None:
        body = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
        all_headers.setdefault("Content-Type", "application/json")
    requester = client or httpx.Client(base_url=server.base_url, timeout=TIMEOUT)
    try:
        reply = requester.request(method, path if client else server.base_url + path, content=body,
                                  headers=all_headers, timeout=TIMEOUT)
    finally:
        if client is None:
            requester.close()
    check(reply)
    return reply


def fresh_sender() -> str:
    return f"fz-{uuid.uuid4().hex[:12]}"


# --- REST ---------------------------------------------------------------------------------------
@FUZZ
@given(fields=values_or_missing(["sender", "message", "metadata"]), message=hostile_texts(),
       metadata=st.one_of(st.none(), json_values(), st.fixed_dictionaries({"note": my_number_texts()})),
       keep_sender=st.booleans())
def test_rest_messages_of_any_shape(hostile_server, fields, message, metadata, keep_sender):
    body = {"sender": fresh_sender(), "message": message, **({"metadata": metadata} if metadata else {})}
    body.update(fields if not keep_sender else {k: v for k, v in fields.items() if k != "sender"})
    reply = send(hostile_server, "POST", "/webhooks/rest/webhook", json_body=body)
    if reply.status_code == 200:
        assert isinstance(reply.json(), list)


@FUZZ
@given(body=raw_bodies(), content_type=content_types())
def test_rest_raw_bodies(hostile_server, body, content_type):
    send(hostile_server, "POST", "/webhooks/rest/webhook", body=body, content_type=content_type)


# --- web ----------------------------------------------------------------------------------------
WEB_POSTS = ["/webhooks/web/message", "/webhooks/web/conversation", "/webhooks/web/stream-ticket",
             "/webhooks/web/speech", "/webhooks/web/delete"]


@FUZZ
@given(path=st.sampled_from(WEB_POSTS), fields=values_or_missing(["message", "after", "message_id", "page", "title",
                                                                  "embed", "language", "pace"]),
       message=hostile_texts(), cookie=st.one_of(st.none(), header_values(200)),
       conversation=st.one_of(st.none(), header_values(100)))
def test_web_routes_with_any_fields(hostile_server, path, fields, message, cookie, conversation):
    headers = {}
    if cookie is not None:
        headers["Cookie"] = f"madoguchi_web={cookie}"
    if conversation is not None:
        headers["X-Madoguchi-Conversation"] = conversation
    send(hostile_server, "POST", path, json_body={"message": message, **fields}, headers=headers)


@FUZZ
@given(path=st.sampled_from(WEB_POSTS), body=raw_bodies(), content_type=content_types())
def test_web_raw_bodies(hostile_server, path, body, content_type):
    send(hostile_server, "POST", path, body=body, content_type=content_type)


@CHEAP
@given(path=st.sampled_from(["/webhooks/web/history", "/webhooks/web/events", "/webhooks/web/info",
                             "/webhooks/web/", "/audio/", "/opendata/procedures.json"]),
       args=st.dictionaries(st.sampled_from(["after", "ticket", "page", "check", "token", "x"]),
                            printable_ascii(300), max_size=4),
       tail=st.text(max_size=40))
def test_web_reads_with_any_query(hostile_server, path, args, tail):
    if path.endswith("/events"):
        args["check"] = "1"  # the question whether a stream would open; a real stream never ends
    if path == "/audio/":
        path += quote(tail, safe="")
    send(hostile_server, "GET", path + "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in args.items()))


# --- Telegram -----------------------------------------------------------------------------------
def telegram_update(message_fields: Dict[str, Any], text: Any, chat_id: Any) -> Dict[str, Any]:
    message = {"message_id": 1, "date": 1763078700, "chat": {"id": chat_id, "type": "private"},
               "from": {"id": chat_id, "is_bot": False, "first_name": "fuzz"}, "text": text}
    message.update(message_fields)
    return {"update_id": uuid.uuid4().int % 10**9, "message": message}


@FUZZ
@given(fields=values_or_missing(["text", "caption", "chat", "from", "date", "message_id", "entities", "sticker",
                                 "voice", "contact"]),
       text=hostile_texts(), chat_id=st.one_of(st.integers(1, 10**12), anything()),
       kind=st.sampled_from(["message", "edited_message", "callback_query", "raw"]), body=raw_bodies(),
       secret=st.sampled_from([TELEGRAM_SECRET, TELEGRAM_SECRET, "wrong", None]))
def test_telegram_updates(hostile_server, fields, text, chat_id, kind, body, secret):
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
    if kind == "raw":
        send(hostile_server, "POST", "/webhooks/telegram/webhook", body=body, content_type="application/json",
             headers=headers)
        return
    update = telegram_update(fields, text, chat_id)
    if kind == "edited_message":
        update["edited_message"] = update.pop("message")
    elif kind == "callback_query":
        update["callback_query"] = {"id": "q1", "from": update["message"]["from"], "data": text,
                                    "chat_instance": "1", "message": update.pop("message")}
    reply = send(hostile_server, "POST", "/webhooks/telegram/webhook", json_body=update, headers=headers)
    if secret != TELEGRAM_SECRET:  # refused either way (an oversized body is refused before the secret is read)
        assert reply.status_code in (403, 413)


# --- LINE ---------------------------------------------------------------------------------------
def line_signature(body: bytes) -> str:
    return base64.b64encode(hmac.new(LINE_SECRET.encode(), body, hashlib.sha256).digest()).decode()


@FUZZ
@given(event_fields=values_or_missing(["type", "source", "replyToken", "message", "postback", "timestamp",
                                       "webhookEventId", "mode", "deliveryContext"]),
       text=hostile_texts(), kind=st.sampled_from(["message", "postback", "follow", "raw", "wrapper"]),
       body=raw_bodies(), signed=st.sampled_from([True, True, False]))
def test_line_webhook_bodies(hostile_server, event_fields, text, kind, body, signed):
    if kind == "raw":
        payload = body
    elif kind == "wrapper":
        payload = json.dumps({"destination": text, "events": event_fields or text}, ensure_ascii=False).encode()
    else:
        event: Dict[str, Any] = {"type": kind, "mode": "active", "timestamp": 1763078700000,
                                 "source": {"type": "user", "userId": "U" + uuid.uuid4().hex},
                                 "replyToken": uuid.uuid4().hex, "webhookEventId": uuid.uuid4().hex[:26].upper(),
                                 "deliveryContext": {"isRedelivery": False}}
        if kind == "message":
            event["message"] = {"id": "1", "type": "text", "text": text, "quoteToken": "q"}
        elif kind == "postback":
            event["postback"] = {"data": text}
        event.update(event_fields)
        payload = json.dumps({"destination": "Ufuzz", "events": [event]}, ensure_ascii=False).encode()
    headers = {"X-Line-Signature": line_signature(payload) if signed else "AAAA"}
    reply = send(hostile_server, "POST", "/webhooks/line/webhook", body=payload,
                 content_type="application/json", headers=headers)
    if not signed:
        assert reply.status_code in (403, 413)


# --- phone (Twilio) -----------------------------------------------------------------------------
@settings(FUZZ, max_examples=15)
@given(path=st.sampled_from(["/webhooks/voice/webhook", "/webhooks/voice/gather", "/webhooks/voice/status"]),
       speech=st.one_of(hostile_texts(), my_number_texts()),
       digits=st.one_of(st.text(alphabet="0123456789*#", max_size=20), my_number_texts(), st.text(max_size=20)),
       extra=st.dictionaries(st.sampled_from(["CallStatus", "From", "To", "Confidence", "Language", "x"]),
                             st.text(max_size=40), max_size=3),
       sid=st.one_of(st.just("known"), st.text(max_size=40)), signed=st.sampled_from([True, True, False]))
def test_phone_webhooks(hostile_server, path, speech, digits, extra, sid, signed):
    form = {"AccountSid": "AC" + "0" * 32, "CallSid": "CA" + uuid.uuid4().hex if sid == "known" else sid,
            "From": "+819000000000", "To": "+81501234000", "CallStatus": "in-progress",
            "SpeechResult": speech, "Digits": digits, **extra}
    form = {k: v.replace("\x00", "") for k, v in form.items()}  # a form field cannot carry NUL through httpx
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(PUBLIC_URL + path, form) if signed else "x"
    reply = httpx.post(hostile_server.base_url + path, data=form, headers={"X-Twilio-Signature": signature},
                       timeout=TIMEOUT)
    check(reply)
    if not signed:
        assert reply.status_code in (403, 413)  # (a flood may be over the body limit)


@settings(FUZZ, max_examples=10)
@given(body=raw_bodies(), content_type=content_types())
def test_phone_raw_bodies(hostile_server, body, content_type):
    send(hostile_server, "POST", "/webhooks/voice/gather", body=body, content_type=content_type,
         headers={"X-Twilio-Signature": "x"})


# --- staff API ----------------------------------------------------------------------------------
STAFF_POSTS = ["claim", "pull", "messages", "handback", "close", "transfer", "callback-done"]


def queued_conversation(server) -> str:
    """A resident waiting for staff (市民課 is open on the test day), so the staff routes do real work."""
    sender = fresh_sender()
    reply = httpx.post(f"{server.base_url}/webhooks/rest/webhook", json={"sender": sender, "message": "人と話したい"},
                       timeout=TIMEOUT)
    assert reply.status_code == 200
    return f"rest:{sender}"


@CHEAP
@given(action=st.sampled_from(STAFF_POSTS), which=st.one_of(st.just("queued"), path_segments()),
       body=st.one_of(values_or_missing(["text", "message", "section", "note", "canned", "to", "language"]),
                      st.fixed_dictionaries({"text": my_number_texts()}), anything()),
       csrf=st.sampled_from(["good", "good", "bad", "none"]))
def test_staff_actions_with_any_bodies(hostile_server, staff_clerk, action, which, body, csrf):
    cid = queued_conversation(hostile_server) if which == "queued" else which
    headers = {"X-CSRF-Token": {"good": staff_clerk.csrf, "bad": "x" * 40, "none": ""}[csrf]}
    reply = send(hostile_server, "POST", f"/staff/api/conversations/{quote(cid, safe='')}/{action}",
                 json_body=body, headers=headers, client=staff_clerk.client)
    if csrf != "good" and reply.status_code not in (404, 405):  # (an id with "/" matches no route)
        assert reply.status_code in (403, 413)


@CHEAP
@given(path=st.sampled_from(["/staff/api/conversations/{}", "/staff/api/conversations/{}/callback",
                             "/staff/api/slips/{}", "/staff/api/queue?section={}", "/staff/api/audit?limit={}",
                             "/staff/api/canned?section={}", "/staff/api/me", "/staff/api/sections"]),
       segment=path_segments())
def test_staff_reads_with_any_ids(hostile_server, staff_clerk, path, segment):
    send(hostile_server, "GET", path.format(quote(segment, safe="")), client=staff_clerk.client)


@CHEAP
@given(path=st.sampled_from(["/staff/api/login", "/admin/api/login", "/staff/api/logout"]), body=raw_bodies(),
       fields=values_or_missing(["username", "password"]), content_type=content_types(), raw=st.booleans())
def test_logins_with_any_bodies(hostile_server, path, body, fields, content_type, raw):
    headers = {"X-Forwarded-For": f"198.51.100.{uuid.uuid4().int % 250}"}  # the login throttle counts per address
    if raw:
        send(hostile_server, "POST", path, body=body, content_type=content_type, headers=headers)
    else:
        send(hostile_server, "POST", path, json_body=fields, headers=headers)


# --- admin API ----------------------------------------------------------------------------------
# Training, evaluation (GET …/evaluation starts one), publishing and rolling back start jobs that load
# 1.5 GB models: not fuzzed here (tests/admin covers them).
ADMIN_WRITES = [("POST", "/admin/api/procedures/{}/check"), ("POST", "/admin/api/procedures/{}/preview"),
                ("PUT", "/admin/api/procedures/{}"), ("POST", "/admin/api/history/{}/restore"),
                ("POST", "/admin/api/missed/examples"), ("POST", "/admin/api/missed/dismiss"),
                ("POST", "/admin/api/procedures/{}/speech")]
ADMIN_READS = ["/admin/api/procedures", "/admin/api/procedures/{}", "/admin/api/procedures/{}/history",
               "/admin/api/history/{}", "/admin/api/freshness", "/admin/api/missed?limit={}",
               "/admin/api/analytics?days={}", "/admin/api/analytics.csv?days={}", "/admin/api/models",
               "/admin/api/jobs", "/admin/api/jobs/{}", "/admin/api/session"]  # evaluation starts a model job


@CHEAP
@given(route=st.sampled_from(ADMIN_WRITES), pid=st.one_of(st.sampled_from(["residence_certificate", "1", "999999"]),
                                                          path_segments()),
       body=st.one_of(values_or_missing(["procedure", "entry", "examples", "text", "texts", "language", "pace",
                                         "ids", "version", "yaml", "fields"]), anything()),
       raw=st.one_of(st.none(), raw_bodies()))
def test_admin_writes_with_any_bodies(hostile_server, admin_clerk, route, pid, body, raw):
    method, path = route
    headers = {"X-CSRF-Token": admin_clerk.csrf}
    url = path.format(quote(pid, safe=""))
    if raw is not None:
        send(hostile_server, method, url, body=raw, content_type="application/json", headers=headers,
             client=admin_clerk.client)
    else:
        send(hostile_server, method, url, json_body=body, headers=headers, client=admin_clerk.client)


@CHEAP
@given(path=st.sampled_from(ADMIN_READS), segment=st.one_of(st.sampled_from(["residence_certificate", "1", "-1"]),
                                                             path_segments()))
def test_admin_reads_with_any_ids(hostile_server, admin_clerk, path, segment):
    send(hostile_server, "GET", path.format(quote(segment, safe="")), client=admin_clerk.client)


# --- any method, any header ---------------------------------------------------------------------
KNOWN_PATHS = ["/", "/health", "/health/live", "/health/ready", "/webhooks/rest/webhook", "/webhooks/rest/",
               "/webhooks/web/message", "/webhooks/web/history", "/webhooks/web/info", "/webhooks/telegram/webhook",
               "/webhooks/line/webhook", "/webhooks/voice/gather", "/staff/api/queue", "/staff/api/login",
               "/staff/api/openapi.json", "/staff", "/admin", "/admin/api/procedures", "/admin/api/models",
               "/opendata/procedures.csv", "/conversations/rest:x/tracker", "/model/parse", "/status", "/version",
               "/nowhere", "/webhooks/nochannel/webhook"]


@CHEAP
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND",
                               "FUZZ"]),
       path=st.sampled_from(KNOWN_PATHS), body=st.one_of(st.none(), raw_bodies()))
def test_random_methods_on_known_paths(hostile_server, method, path, body):
    send(hostile_server, method, path, body=body, content_type="application/json" if body is not None else None)


@settings(FUZZ, max_examples=20)
@given(size=st.sampled_from([1000, 8000, 20000, 100000]), many=st.integers(0, 300),
       name=st.sampled_from(["X-Fuzz", "Cookie", "Authorization", "X-Forwarded-For", "Content-Type",
                             "X-Telegram-Bot-Api-Secret-Token", "X-CSRF-Token", "Last-Event-ID"]),
       path=st.sampled_from(["/webhooks/rest/webhook", "/staff/api/queue", "/webhooks/telegram/webhook",
                             "/webhooks/web/history"]))
def test_huge_headers(hostile_server, size, many, name, path):
    headers = {f"X-Many-{n}": "v" * 10 for n in range(many)}
    headers[name] = "a" * size
    try:
        send(hostile_server, "POST" if "webhook" in path else "GET", path,
             json_body={"sender": fresh_sender(), "message": "こんにちは"}, headers=headers)
    except httpx.RemoteProtocolError:
        raise AssertionError(f"the server closed the connection without an answer ({name}: {size} bytes)") from None


BAD_COOKIES = ["madoguchi_staff=abc; $~x=1",  # http.cookies raises CookieError for this one
               "$Version=1; a=b", "a=\"unterminated", "=; =; =", ";;;;", "a" * 5000,
               "madoguchi_web=../../etc; madoguchi_web=x", "__Host-madoguchi_staff=%ff%00"]


@CHEAP
@given(cookie=st.one_of(st.sampled_from(BAD_COOKIES), printable_ascii(300),
                        st.builds(lambda a, b: f"{a}; ${b}=1", printable_ascii(30), printable_ascii(10)))
       .map(str.strip).filter(bool),  # (httpx itself refuses a value with spaces around it)
       path=st.sampled_from(["/webhooks/web/history", "/staff/api/queue", "/staff/api/me", "/admin/api/models",
                             "/admin/api/session", "/staff/api/session"]))
def test_any_cookie_header(hostile_server, cookie, path):
    reply = send(hostile_server, "GET", path, headers={"Cookie": cookie})
    if path.startswith(("/staff/api/q", "/staff/api/me", "/admin/api/models")):
        assert reply.status_code == 401  # no readable session cookie: not logged in


def test_a_cookie_header_the_standard_library_refuses_is_no_session(hostile_server, staff_clerk):
    """Found by schemathesis: `$~x=1` made http.cookies raise, a 500 on every route that reads a cookie."""
    for path in ("/staff/api/me", "/admin/api/models"):
        assert send(hostile_server, "GET", path, headers={"Cookie": BAD_COOKIES[0]}).status_code == 401
    page = send(hostile_server, "GET", "/webhooks/web/history", headers={"Cookie": BAD_COOKIES[0]})
    assert page.status_code == 200 and page.json()["messages"] == []


@FUZZ
@given(cookie=st.one_of(st.sampled_from(BAD_COOKIES), printable_ascii(300)).map(str.strip).filter(bool))
def test_any_cookie_header_on_the_web_message(hostile_server, cookie):
    send(hostile_server, "POST", "/webhooks/web/message", json_body={"message": "こんにちは"},
         headers={"Cookie": cookie})


# --- afterwards ---------------------------------------------------------------------------------
def test_zz_afterwards_no_traceback_and_no_individual_number_anywhere(hostile_server):
    """Runs last in this module: what the fuzzers left in the log and the databases."""
    assert len(SENT_NUMBERS) > 50  # the fuzzers really sent individual numbers
    log = hostile_server.log_path.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log, log[log.index("Traceback") - 2000:log.index("Traceback") + 4000]
    files = stored_files(hostile_server.var_dir)
    assert any(p.suffix == ".log" for p in files) and any(".db" in p.name for p in files)
    found = hits(files, numbers=sorted(SENT_NUMBERS))
    assert not found, found[:20]
