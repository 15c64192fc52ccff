"""The web chat channel (`/webhooks/web/`): the page residents and kiosk tablets use.

The page (plain HTML/CSS/JS from `bot/web/`, no build step) posts each message here and
keeps one Server-Sent Events stream open per tab, so a counter clerk's reply appears
without a reload. The tracker is the single source of truth: every message the page
shows carries its tracker timestamp as id and cursor, so restoring after a reload,
catching up after a reconnect (`Last-Event-ID`) and pushing staff replies are the same
operation, and the page can drop duplicates by id.

Whose conversation a request belongs to is decided by the server, never by the client:
  - On the city's page, a server-issued cookie `madoguchi_web` (`__Host-madoguchi_web`
    behind HTTPS) holds 128 random bits: HttpOnly (no script reads it), SameSite=Strict
    (no other site's form or script can send it), Secure when MADOGUCHI_PUBLIC_URL is
    https. It is set on the first request without one. The conversation id is
    `web:` + a hash of that value, so ids shown to staff or written to logs cannot be
    turned back into a resident's cookie.
  - Embedded with widget.js, the page runs in an iframe on another site, where a
    SameSite=Strict cookie is neither sent nor stored (and third-party cookies are
    blocked more and more). The embedded page therefore gets a conversation that lives
    only as long as the page load: `POST /conversation {"embed": true}` returns a fresh
    token that the page keeps in memory (never in storage, never in a URL) and sends in
    the `X-Madoguchi-Conversation` header. EventSource cannot send headers, so the
    embedded page opens its stream with a one-time ticket (`POST /stream-ticket`, valid
    60 s, used once): a ticket seen in a log or a Referer is already spent. Closing the
    panel keeps the conversation; reloading the city's page starts a new one, which on a
    shared computer in a library is what a resident wants.
A `sender` sent by a client is ignored.

Kiosk mode (`?kiosk=1`, or MADOGUCHI_KIOSK=true for every page) is for the tablets in the
city-hall lobby: after MADOGUCHI_KIOSK_IDLE_SECONDS without input the page shows a
countdown (「続けますか？」, WCAG 2.2.1) and then starts a new conversation, so the next
resident never sees the previous one.

Live streams are capped (bot/sse.py): past MADOGUCHI_MAX_SSE_STREAMS in the process a new
stream gets 503; a conversation open in more than MAX_PAGES_PER_CONVERSATION tabs refuses
the newest tab (429) and never closes a tab the resident is reading.

Routes (under `/webhooks/web`):
  GET  /              the chat page (also served at `/`, see `root_page_blueprint`)
  GET  /widget.js     one `<script>` tag that embeds the page on the city's site
  GET  /static/*      the page's CSS/JS
  GET  /info          counter name, address, hours, phone in ja/en/easy; kiosk settings
  GET  /history       transcript after a cursor, from the tracker
  GET  /events        SSE stream of new messages for the conversation (`?check=1`: would it open?)
  POST /message       one resident message → the messages after the client's cursor
  POST /conversation  start a new conversation (new cookie, or a new token when embedded)
  POST /stream-ticket a one-time ticket for the embedded page's stream
  POST /delete        delete the conversation everywhere (bot/privacy.py); a new one starts
"""
from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import logging
import re
import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Text, Tuple

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.shared.core.constants import EXTERNAL_MESSAGE_PREFIX
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import privacy, sse
from channels.inbound import InboundError, prepare
from channels.outbound import remember
from channels.rest import AnnotatedCollectingOutputChannel, parse_json_object

logger = logging.getLogger(__name__)

DEFAULT_MAX_CHARS = 2000
STATIC_DIR = Path(__file__).resolve().parent.parent / "bot" / "web"
SENDER_PREFIX = "web:"
COOKIE_NAME = "madoguchi_web"
SECURE_COOKIE_NAME = "__Host-madoguchi_web"  # behind HTTPS: Secure, Path=/, no Domain
CONVERSATION_HEADER = "X-Madoguchi-Conversation"
TOKEN = re.compile(r"^[0-9a-f]{32}$")
CLIENT_ID = re.compile(r"^[0-9a-f]{8,64}$")
MAX_TITLE_CHARS = 100
MAX_HISTORY = 300
MAX_PAGES_PER_CONVERSATION = 8
KEEPALIVE_SECONDS = 15
TICKET_SECONDS = 60.0
MAX_TICKETS = 10_000
# The page's own scripts and styles only: a message that slipped past the DOM-building
# code still could not run a script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; media-src 'self' blob: data:; object-src 'none'; base-uri 'none'; form-action 'self'"
)
LANGUAGES = ("ja", "en", "easy")


def message_from_event(event: Any) -> Optional[Dict[str, Any]]:
    """One transcript entry from a tracker event; None for events the page does not show."""
    type_name = getattr(event, "type_name", None)
    if type_name == "user":
        # "EXTERNAL: …" events are intents triggered by the server (reminders, APIs), not the resident.
        if not event.text or event.text.startswith(EXTERNAL_MESSAGE_PREFIX):
            return None
        entry = {"id": f"u{event.timestamp!r}", "ts": event.timestamp, "role": "user", "text": event.text}
        metadata = event.metadata or {}
        if isinstance(metadata.get("title"), str):
            entry["title"] = metadata["title"]
        if event.message_id:
            entry["client_id"] = event.message_id
        return entry
    if type_name == "bot":
        data, metadata = event.data or {}, event.metadata or {}
        if not event.text and not data.get("buttons"):
            return None
        return dict(shape_message({**data, **metadata, "text": event.text}),
                    id=f"b{event.timestamp!r}", ts=event.timestamp)
    return None


def shape_message(message: Dict[str, Any]) -> Dict[str, Any]:
    """What the page needs of one bot message (same keys as a REST reply, plus `staff`)."""
    staff = message.get("staff")
    shaped: Dict[str, Any] = {"role": "staff" if staff else "bot", "text": message.get("text") or ""}
    for key in ("lang", "variant", "ruby"):
        if isinstance(message.get(key), str) and message[key]:
            shaped[key] = message[key]
    if "ruby" not in shaped and shaped.get("lang") == "ja" and shaped.get("variant", "ja") == "ja":
        # Standard Japanese has no furigana in the catalog; readings from the dictionary
        # let the page's furigana toggle help a reader who knows kana but few kanji.
        ruby = auto_ruby(shaped["text"])
        if ruby:
            shaped["ruby"] = ruby
    buttons = [
        {"title": str(b.get("title") or ""), "payload": str(b.get("payload") or "")}
        for b in (message.get("buttons") or []) if isinstance(b, dict) and b.get("payload")
    ]
    if buttons:
        shaped["buttons"] = buttons
    if staff:
        shaped["staff"] = {"name": str(staff.get("name") or "")} if isinstance(staff, dict) else {"name": ""}
    image = message.get("image")
    if isinstance(image, str) and image.startswith("data:image/png;base64,"):
        shaped["image"] = image  # e.g. a visit slip's QR code; only inline PNGs (the page's CSP allows data:)
    return shaped


_KATAKANA_TO_HIRAGANA = {code: code - 0x60 for code in range(0x30A1, 0x30F7)}


@functools.lru_cache(maxsize=1)
def _tagger() -> Any:
    import fugashi

    return fugashi.Tagger()


def _align(surface: str, reading: str) -> str:
    """{漢字|かんじ} markup for one word, kana outside the braces (受け取り → {受|う}け{取|と}り)."""
    from bot.catalog.furigana import KANJI_PATTERN

    parts = re.findall(r"(?:%s)+|(?:(?!%s).)+" % (KANJI_PATTERN.pattern, KANJI_PATTERN.pattern), surface)
    pattern = "".join("(.+?)" if KANJI_PATTERN.match(p) else re.escape(p.translate(_KATAKANA_TO_HIRAGANA))
                      for p in parts)
    match = re.fullmatch(pattern, reading)
    if not match:
        return f"{{{surface}|{reading}}}"
    groups = iter(match.groups())
    return "".join(f"{{{p}|{next(groups)}}}" if KANJI_PATTERN.match(p) else p for p in parts)


@functools.lru_cache(maxsize=4096)
def auto_ruby(text: str) -> Optional[str]:
    """Furigana markup for standard Japanese from the dictionary (unidic-lite); None if
    there is no kanji or the result would not reproduce the text exactly."""
    from bot.catalog.furigana import KANJI_PATTERN, plain

    if not KANJI_PATTERN.search(text):
        return None
    try:
        out = []
        for word in _tagger()(text):
            out.append(word.white_space)
            kana = getattr(word.feature, "kana", None)
            if KANJI_PATTERN.search(word.surface) and kana and kana != "*":
                out.append(_align(word.surface, kana.translate(_KATAKANA_TO_HIRAGANA)))
            else:
                out.append(word.surface)
        ruby = "".join(out)
    except Exception:  # furigana is a reading aid: never fail a message for it
        logger.exception("furigana: could not annotate a message")
        return None
    return ruby if plain(ruby) == text else None


def transcript(events: Iterable[Any], after: float = 0.0) -> List[Dict[str, Any]]:
    """User and bot messages newer than `after`, oldest first.

    A button press is stored as its payload (`/request_human`); the page shows the
    button's title instead, from the message metadata or else from the buttons offered.
    """
    offered: Dict[str, str] = {}
    result: List[Dict[str, Any]] = []
    for event in events:
        entry = message_from_event(event)
        if entry is None:
            continue
        if entry["role"] == "user":
            if entry["text"].startswith("/") and "title" not in entry and entry["text"] in offered:
                entry["title"] = offered[entry["text"]]
            offered = {}
        elif entry.get("buttons"):  # the buttons of every message of the bot's last turn
            offered.update({b["payload"]: b["title"] for b in entry["buttons"]})
        if entry["ts"] > after:
            result.append(entry)
    return result[-MAX_HISTORY:]


@dataclass(eq=False)
class PageStream:
    """One open tab of one conversation: its SSE queue and what it has already seen."""

    sender: str
    page: str
    cursor: float
    queue: "asyncio.Queue[Optional[str]]" = field(default_factory=asyncio.Queue)

    def send(self, messages: List[Dict[str, Any]], transient: List[Dict[str, Any]] = ()) -> None:
        transient = list(transient)
        if not messages and not transient:
            return
        if messages:
            self.cursor = max(self.cursor, max(m["ts"] for m in messages))
        # The id lets the browser's automatic reconnect resume after the last message it got.
        self.queue.put_nowait(sse.event("messages", {"messages": messages, "transient": transient,
                                                     "cursor": self.cursor},
                                        repr(self.cursor) if messages else None))


class WebPushOutputChannel(OutputChannel):
    """Bot messages produced outside a page's request, sent to the conversation's open tabs.

    They go out before Rasa saves the tracker, so without an id; the page matches them
    with the stored copy when that arrives later (by text), so nothing shows twice.
    """

    def __init__(self, channel: "WebInput") -> None:
        self.channel = channel

    @classmethod
    def name(cls) -> Text:
        return "web"

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        shaped = shape_message(message)
        if shaped["text"] or shaped.get("buttons"):
            self.channel.push_transient(recipient_id, shaped)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self.send_response(recipient_id, dict(kwargs, text=text))


class WebInput(InputChannel):
    """Rasa input channel `web`: the accessible chat page and its live transport."""

    @classmethod
    def name(cls) -> Text:
        return "web"

    def __init__(self, max_chars: int = DEFAULT_MAX_CHARS, catalog_dir: Optional[Path] = None,
                 static_dir: Path = STATIC_DIR) -> None:
        self.max_chars = max_chars
        self.catalog_dir = Path(catalog_dir) if catalog_dir else None
        self.static_dir = Path(static_dir)
        self._pages: Dict[str, List[PageStream]] = {}  # oldest tab first
        self._tickets: "OrderedDict[str, tuple]" = OrderedDict()  # one-time stream tickets (embedded pages)
        self._app: Any = None
        self._info: Optional[Dict[str, Any]] = None
        self._info_minute: Optional[str] = None
        self._catalog: Any = None
        self._catalog_signature: Optional[tuple] = None

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        return cls(int(credentials.get("max_chars", DEFAULT_MAX_CHARS)), credentials.get("catalog_dir"))

    # --- delivery outside a request (staff replies, queue updates) --------------------
    async def push(self, recipient_id: str, message: Dict[str, Any]) -> bool:
        """Deliver to every open tab of the conversation; False when none is open.

        The tracker already holds a staff reply when this is called, so each tab gets
        everything after its cursor (the new message and anything it missed). A message
        that is not in the tracker (e.g. a queue-position update) goes out as is.
        """
        pages = list(self._pages.get(recipient_id, ()))
        if not pages:
            return False
        events = await self._events(recipient_id)
        shaped = shape_message(message)
        recent_bot_texts = {e["text"] for e in transcript(events[-30:]) if e["role"] != "user"}
        persisted = shaped["text"] in recent_bot_texts
        for page in pages:
            newer = transcript(events, page.cursor)
            page.send(newer, [] if persisted else [shaped])
        return True

    def push_transient(self, recipient_id: str, message: Dict[str, Any]) -> bool:
        """Send a message as is, without reading the tracker (it may not be saved yet)."""
        pages = list(self._pages.get(recipient_id, ()))
        for page in pages:
            page.send([], [message])
        return bool(pages)

    def get_output_channel(self) -> Optional[OutputChannel]:
        """Where Rasa sends bot messages that no request waits for (reminders,
        `trigger_intent?output_channel=latest`): straight to the open tabs."""
        return WebPushOutputChannel(self)

    async def _events(self, sender: str) -> List[Any]:
        agent = getattr(self._app.ctx, "agent", None) if self._app is not None else None
        if agent is None or agent.tracker_store is None:
            return []
        # All sessions: a conversation resumed after the session expired still shows its past.
        tracker = await agent.tracker_store.retrieve_full_tracker(sender)
        return list(tracker.events) if tracker is not None else []

    def _sync_other_pages(self, sender: str, events: List[Any], except_page: str) -> None:
        for page in list(self._pages.get(sender, ())):
            if page.page != except_page:
                page.send(transcript(events, page.cursor))

    def _open(self, stream: PageStream) -> bool:
        """Register a tab's stream; False when the conversation has too many open already.

        The newest is refused rather than the oldest closed: the oldest may be the tab the
        resident is reading, and a stranger's tab must never push theirs out.
        """
        pages = self._pages.setdefault(stream.sender, [])
        if len(pages) >= MAX_PAGES_PER_CONVERSATION:
            return False
        pages.append(stream)
        return True

    def _reset_pages(self, sender: str, except_page: str = "") -> None:
        """The conversation was deleted: its other open tabs clear their screens; every
        stream of it closes (the browser reconnects to its new conversation)."""
        for page in list(self._pages.get(sender, ())):
            if page.page != except_page:
                page.queue.put_nowait(sse.event("reset", {}))
            page.queue.put_nowait(None)

    # --- whose conversation ------------------------------------------------------------------
    def settings(self, app: Any) -> Any:
        from bot.settings import Settings

        settings = getattr(getattr(app, "ctx", None), "settings", None)
        return settings if settings is not None else Settings.from_env()

    def visitor(self, request: Request) -> "Visitor":
        """The conversation this request belongs to: the embedded page's header, else the
        cookie, else a new one (the response then sets the cookie)."""
        header = request.headers.get(CONVERSATION_HEADER)
        if header is not None:
            if not TOKEN.match(header):
                raise InboundError("invalid_conversation", f"`{CONVERSATION_HEADER}` must be 32 hex digits.")
            return Visitor(header, embedded=True)
        for name in (SECURE_COOKIE_NAME, COOKIE_NAME):
            value = request.cookies.get(name)
            if value and TOKEN.match(value):
                return Visitor(value)
        return Visitor(new_token(), new=True)

    def cookie_headers(self, request: Request, visitor: "Visitor") -> Dict[str, str]:
        """Set-Cookie for a visitor who has no cookie yet (none for the embedded page)."""
        if not visitor.new or visitor.embedded:
            return {}
        return {"Set-Cookie": cookie_header(visitor.token, self.settings(request.app))}

    def fresh_start(self, request: Request, embedded: bool) -> Tuple[Dict[str, Any], Dict[str, str]]:
        """A new conversation: (response body, headers). The embedded page gets its token in
        the body (kept in memory); the city's page gets a new cookie."""
        token = new_token()
        if embedded:
            return {"token": token}, {"Cache-Control": "no-store"}
        return {"ok": True}, {"Cache-Control": "no-store", "Set-Cookie": cookie_header(token, self.settings(request.app))}

    def issue_ticket(self, conversation_id: str) -> str:
        ticket = new_token()
        remember(self._tickets, ticket, (conversation_id, time.monotonic() + TICKET_SECONDS), MAX_TICKETS)
        return ticket

    def redeem_ticket(self, ticket: Any) -> str:
        """The conversation of a one-time stream ticket; InboundError (403) when unknown, used or old."""
        entry = self._tickets.pop(ticket, None) if isinstance(ticket, str) else None
        if entry is None or entry[1] < time.monotonic():
            raise InboundError("invalid_ticket", "This stream ticket is unknown, used or expired.", status=403)
        return entry[0]

    def _close(self, stream: PageStream) -> None:
        pages = self._pages.get(stream.sender)
        if pages is not None and stream in pages:
            pages.remove(stream)
            if not pages:
                self._pages.pop(stream.sender, None)

    # --- counter information -----------------------------------------------------------
    def catalog(self) -> Any:
        """The catalog, loaded again only when one of its files changed (loading takes ~1 s)."""
        from bot.catalog import load_catalog
        from bot.settings import Settings

        directory = self.catalog_dir or Settings.from_env().catalog_dir
        signature = tuple(sorted((str(p), p.stat().st_mtime_ns) for p in directory.rglob("*.yml")))
        if self._catalog is None or signature != self._catalog_signature:
            self._catalog, self._catalog_signature = load_catalog(directory), signature
        return self._catalog

    def counter_info(self) -> Dict[str, Any]:
        """Where, when and how to reach the counter, in the three languages.

        Recomputed once a minute, since "open now / next opening" changes with the clock.
        """
        from bot import opening_hours as calendar
        from bot.catalog.model import DEFAULT_COUNTER
        from bot.replies import ReplyBuilder

        now = dt.datetime.now(dt.timezone.utc)
        minute = now.strftime("%Y-%m-%dT%H:%M")
        if self._info is not None and self._info_minute == minute:
            return self._info
        catalog = self.catalog()
        counter = catalog.counters.get(DEFAULT_COUNTER) or next(iter(catalog.counters.values()))
        current, upcoming = calendar.status(catalog.city, counter, now)
        texts: Dict[str, Dict[str, Any]] = {}
        for language in LANGUAGES:
            builder = ReplyBuilder(catalog, language, now)
            if current is not None:
                status = builder.phrase("open_now", close=current.end.strftime("%H:%M"))
            elif upcoming is not None:
                status = builder.phrase("closed_now", next=builder.format_when(upcoming.start))
            else:
                status = ""
            texts[language] = {
                "city": catalog.city.name.get(language),
                "counter": counter.name.get(language),
                "place": counter.place.get(language),
                "address": catalog.city.address.get(language),
                "access": catalog.city.access.get(language),
                "hours": builder.hours_text(counter),
                "closed_days": builder.phrase("closed_days"),
                "status": status,
                "human": builder.phrase("label_human"),
                "staff": builder.phrase("staff_label") if "staff_label" in catalog.phrases else "",
            }
        self._info = {"phone": counter.phone, "open": current is not None, "max_chars": self.max_chars,
                      "texts": texts, "kiosk": self.kiosk_settings()}
        self._info_minute = minute
        return self._info

    def kiosk_settings(self) -> Dict[str, Any]:
        settings = self.settings(self._app)
        return {"enabled": bool(settings.kiosk), "idle_seconds": int(settings.kiosk_idle_seconds),
                "countdown_seconds": int(settings.kiosk_countdown_seconds)}

    # --- HTTP ------------------------------------------------------------------------------
    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        web = Blueprint("madoguchi_web", __name__)
        web.static("/static", str(self.static_dir), name="web_static")

        @web.listener("before_server_start")
        async def remember_app(app, loop) -> None:
            self._app = app
            # Load the dictionary and the catalog now rather than during a resident's first request.
            await loop.run_in_executor(None, lambda: (_tagger(), self.counter_info()))

        @web.listener("before_server_stop")
        async def close_streams(_app, _loop) -> None:
            # Open SSE streams would otherwise hold the shutdown for its full grace period.
            for pages in list(self._pages.values()):
                for page in list(pages):
                    page.queue.put_nowait(None)

        @web.route("/", methods=["GET", "HEAD"])
        async def page(_: Request) -> HTTPResponse:
            return chat_page(self.static_dir)

        @web.route("/widget.js", methods=["GET"])
        async def widget(_: Request) -> HTTPResponse:
            return await response.file(str(self.static_dir / "widget.js"),
                                       headers={"Cache-Control": "no-cache"})

        @web.route("/info", methods=["GET"])
        async def info(_: Request) -> HTTPResponse:
            # Off the event loop: reading the catalog's YAML must not hold up live streams.
            info = await asyncio.get_running_loop().run_in_executor(None, self.counter_info)
            return response.json(info, ensure_ascii=False, headers={"Cache-Control": "no-cache"})

        @web.route("/history", methods=["GET"])
        async def history(request: Request) -> HTTPResponse:
            try:
                visitor = self.visitor(request)
                after = cursor_value(request.args.get("after"))
            except InboundError as error:
                return response.json(error.as_json(), status=error.status)
            self._app = self._app or request.app
            messages = [] if visitor.new else transcript(await self._events(visitor.conversation_id), after)
            cursor = max([after] + [m["ts"] for m in messages])
            return response.json({"messages": messages, "cursor": cursor}, ensure_ascii=False,
                                 headers={"Cache-Control": "no-store", **self.cookie_headers(request, visitor)})

        @web.route("/events", methods=["GET"])
        async def events(request: Request):
            try:
                if request.args.get("ticket") is not None:
                    sender, cookie = self.redeem_ticket(request.args.get("ticket")), {}
                else:
                    visitor = self.visitor(request)
                    sender, cookie = visitor.conversation_id, self.cookie_headers(request, visitor)
                page_id = client_id(request.args.get("page")) or uuid.uuid4().hex
                # After a dropped connection the browser sends the last id it saw.
                after = cursor_value(request.headers.get("last-event-id") or request.args.get("after"))
            except InboundError as error:
                return response.json(error.as_json(), status=error.status)
            self._app = self._app or request.app
            slots = sse.stream_slots(request.app)
            if len(self._pages.get(sender, ())) >= MAX_PAGES_PER_CONVERSATION:
                return too_many_pages()
            if slots.open >= slots.limit:
                return sse.server_busy()
            if request.args.get("check"):  # the page asks why its stream failed
                return response.empty(headers=cookie)
            stream = PageStream(sender, page_id, after)
            if not self._open(stream):
                return too_many_pages()
            if not slots.acquire():
                self._close(stream)
                return sse.server_busy()
            try:
                live = await sse.open_stream(request, headers=cookie)
                await live.send(sse.event("ready", {"page": page_id}))
                stream.send(transcript(await self._events(sender), after))
                await sse.relay(live, stream.queue, KEEPALIVE_SECONDS)
            finally:
                slots.release()
                self._close(stream)

        @web.route("/message", methods=["POST"])
        async def message(request: Request) -> HTTPResponse:
            try:
                visitor = self.visitor(request)
                sender = visitor.conversation_id
                body = parse_json_object(request)
                after = cursor_value(body.get("after"))
                message_id = client_id(body.get("message_id")) or uuid.uuid4().hex
                page_id = client_id(body.get("page")) or ""
                inbound = prepare(body.get("message"), self.max_chars)
                metadata = dict(inbound.metadata)
                title = button_title(body.get("title"), inbound.text)
                if title:
                    metadata["title"] = title
            except InboundError as error:
                return response.json(error.as_json(), status=error.status)
            self._app = self._app or request.app
            cookie = self.cookie_headers(request, visitor)
            collector = AnnotatedCollectingOutputChannel()
            try:
                await on_new_message(UserMessage(inbound.text, collector, sender, input_channel=self.name(),
                                                 message_id=message_id, metadata=metadata))
            except Exception:  # the message is in the tracker; the page keeps the text and offers a retry
                logger.exception("web channel: handling a message failed")
                return response.json({"error": "internal_error",
                                      "message": "Sorry, something went wrong. Please try again. "
                                                 "エラーが起きました。もう一度お試しください。"}, status=500,
                                     headers=cookie)
            events = await self._events(sender)
            messages = transcript(events, after)
            cursor = max([after] + [m["ts"] for m in messages])
            for page in self._pages.get(sender, ()):
                if page.page == page_id:
                    page.cursor = max(page.cursor, cursor)
            self._sync_other_pages(sender, events, page_id)
            return response.json({"messages": messages, "transient": unstored(collector.messages, messages),
                                  "cursor": cursor, "message_id": message_id}, ensure_ascii=False, headers=cookie)

        @web.route("/conversation", methods=["POST"])
        async def new_conversation(request: Request) -> HTTPResponse:
            """A new conversation: a new cookie, or a new in-memory token for the embedded page."""
            try:
                body = parse_json_object(request) if request.body else {}
            except InboundError as error:
                return response.json(error.as_json(), status=error.status)
            payload, headers = self.fresh_start(request, embedded=body.get("embed") is True or
                                                request.headers.get(CONVERSATION_HEADER) is not None)
            return response.json(payload, headers=headers)

        @web.route("/stream-ticket", methods=["POST"])
        async def stream_ticket(request: Request) -> HTTPResponse:
            try:
                visitor = self.visitor(request)
            except InboundError as error:
                return response.json(error.as_json(), status=error.status)
            return response.json({"ticket": self.issue_ticket(visitor.conversation_id)},
                                 headers={"Cache-Control": "no-store", **self.cookie_headers(request, visitor)})

        @web.route("/delete", methods=["POST"])
        async def delete_conversation(request: Request) -> HTTPResponse:
            """「この会話を消す」: everything of this conversation goes; the page starts afresh."""
            try:
                visitor = self.visitor(request)
                body = parse_json_object(request) if request.body else {}
                page_id = client_id(body.get("page")) or ""
            except InboundError as error:
                return response.json(error.as_json(), status=error.status)
            self._app = self._app or request.app
            sender = visitor.conversation_id
            language = body.get("language") if body.get("language") in LANGUAGES else \
                await privacy.conversation_language(request.app, sender)
            deletion = await privacy.delete_conversation(request.app, sender, self.name())
            self._reset_pages(sender, page_id)
            loop = asyncio.get_running_loop()
            reply = await loop.run_in_executor(None, privacy.deleted_message, await request.app.ctx.catalogs.current(), deletion, language)
            payload, headers = self.fresh_start(request, embedded=visitor.embedded)
            payload.update(deleted=deletion.summary(), message=shape_message(reply))
            return response.json(payload, ensure_ascii=False, headers=headers)

        return web


def unstored(collected: List[Dict[str, Any]], stored: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Replies that went to the output channel but not into the tracker (sent as-is)."""
    remaining = [m["text"] for m in stored if m["role"] != "user"]
    result = []
    for reply in collected:
        shaped = shape_message(reply)
        if shaped["text"] in remaining:
            remaining.remove(shaped["text"])
        elif shaped["text"] or shaped.get("buttons"):
            result.append(shaped)
    return result


def new_token() -> str:
    """128 random bits: the secret a web conversation belongs to."""
    return secrets.token_hex(16)


def conversation_id_for(token: str) -> str:
    """`web:` + 128 bits of SHA-256 of the token: ids seen by staff or in logs reveal no cookie."""
    return SENDER_PREFIX + hashlib.sha256(token.encode("ascii")).hexdigest()[:32]


@dataclass(frozen=True)
class Visitor:
    """Whose conversation a request is: its token, and whether the response must set a cookie."""

    token: str
    embedded: bool = False
    new: bool = False

    @property
    def conversation_id(self) -> str:
        return conversation_id_for(self.token)


def cookie_header(token: str, settings: Any) -> str:
    """The Set-Cookie value: HttpOnly, SameSite=Strict; `__Host-` and Secure behind HTTPS.

    It lasts as long as conversations are kept (MADOGUCHI_RETENTION_DAYS).
    """
    secure = bool(getattr(settings, "behind_https", False))
    name = SECURE_COOKIE_NAME if secure else COOKIE_NAME
    parts = [f"{name}={token}", "Path=/", "HttpOnly", "SameSite=Strict"]
    days = int(getattr(settings, "retention_days", 0) or 0)
    if days > 0:
        parts.insert(2, f"Max-Age={days * 86400}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def too_many_pages() -> HTTPResponse:
    return response.json(
        {"error": "too_many_pages",
         "message": f"This conversation is already open in {MAX_PAGES_PER_CONVERSATION} tabs. Please close one "
                    f"and reload this page. この会話は、すでに{MAX_PAGES_PER_CONVERSATION}つのタブで開いています。"
                    "どれかを閉じてから、このページを読み込み直してください。"},
        status=429, headers={"Retry-After": str(sse.RETRY_AFTER_SECONDS), "Cache-Control": "no-store"})


def client_id(value: Any) -> Optional[str]:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not CLIENT_ID.match(value):
        raise InboundError("invalid_id", "Ids must be 8–64 lowercase hex digits.")
    return value


def cursor_value(value: Any) -> float:
    if value is None or value == "":
        return 0.0
    try:
        cursor = float(value)
    except (TypeError, ValueError):
        raise InboundError("invalid_cursor", "`after` must be a number (a message timestamp).")
    if cursor != cursor or cursor < 0 or cursor == float("inf"):
        raise InboundError("invalid_cursor", "`after` must be a number (a message timestamp).")
    return cursor


def button_title(value: Any, text: str) -> Optional[str]:
    """The label of the button that sent a payload; shown instead of `/intent{...}`."""
    if value is None or not text.startswith("/"):
        return None
    if not isinstance(value, str):
        raise InboundError("invalid_title", "`title` must be a string.")
    from bot.redaction import clean_inbound

    return clean_inbound(value[:MAX_TITLE_CHARS]).text or None


def page_headers() -> Dict[str, str]:
    return {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


def chat_page(static_dir: Path = STATIC_DIR) -> HTTPResponse:
    html = (Path(static_dir) / "index.html").read_text(encoding="utf-8")
    return response.html(html, headers=page_headers())


def root_page_blueprint(static_dir: Path = STATIC_DIR) -> Blueprint:
    """Serve the chat page at `/` too.

    Rasa's own app already owns GET `/` ("Hello from Rasa"), and Sanic refuses a second
    route for the same path, so an app-level request middleware answers GET/HEAD `/`
    before Rasa's handler runs. Blueprint middleware would only apply to the blueprint's
    own routes, hence the listener that registers it on the app.
    """
    root = Blueprint("madoguchi_root_page")

    async def serve_page(request: Request) -> Optional[HTTPResponse]:
        if request.path == "/" and request.method in ("GET", "HEAD"):
            return chat_page(static_dir)
        return None

    @root.listener("before_server_start")
    async def take_root(app, _loop) -> None:
        app.register_middleware(serve_page, "request")

    return root
