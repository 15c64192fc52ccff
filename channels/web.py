"""The web chat channel (`/webhooks/web/`): the page residents and kiosk tablets use.

The page (plain HTML/CSS/JS from `bot/web/`, no build step) posts each message here and
keeps one Server-Sent Events stream open per tab, so a counter clerk's reply appears
without a reload. The tracker is the single source of truth: every message the page
shows carries its tracker timestamp as id and cursor, so restoring after a reload,
catching up after a reconnect (`Last-Event-ID`) and pushing staff replies are the same
operation, and the page can drop duplicates by id.

Routes (under `/webhooks/web`):
  GET  /            the chat page (also served at `/`, see `root_page_blueprint`)
  GET  /widget.js   one `<script>` tag that embeds the page on the city's site
  GET  /static/*    the page's CSS/JS
  GET  /info        counter name, address, hours, phone in ja/en/easy (from the catalog)
  GET  /history     transcript after a cursor, from the tracker
  GET  /events      SSE stream of new messages for one conversation
  POST /message     one resident message → the messages after the client's cursor
"""
from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.shared.core.constants import EXTERNAL_MESSAGE_PREFIX
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.inbound import InboundError, check_sender, prepare
from channels.rest import AnnotatedCollectingOutputChannel, parse_json_object

logger = logging.getLogger(__name__)

DEFAULT_MAX_CHARS = 2000
STATIC_DIR = Path(__file__).resolve().parent.parent / "bot" / "web"
# Web conversation ids are 128 random bits made by the browser. Requiring this shape keeps
# the web channel from reading or writing another channel's conversation (a Telegram chat
# id is guessable; a web id is not).
WEB_SENDER = re.compile(r"^web-[0-9a-f]{32}$")
CLIENT_ID = re.compile(r"^[0-9a-f]{8,64}$")
MAX_TITLE_CHARS = 100
MAX_HISTORY = 300
MAX_PAGES_PER_CONVERSATION = 8
KEEPALIVE_SECONDS = 15
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
        payload = json.dumps({"messages": messages, "transient": transient, "cursor": self.cursor},
                             ensure_ascii=False)
        # The id lets the browser's automatic reconnect resume after the last message it got.
        event_id = f"id: {self.cursor!r}\n" if messages else ""
        self.queue.put_nowait(f"{event_id}event: messages\ndata: {payload}\n\n")


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

    def _open(self, stream: PageStream) -> None:
        pages = self._pages.setdefault(stream.sender, [])
        while len(pages) >= MAX_PAGES_PER_CONVERSATION:  # close the oldest tab's stream
            pages.pop(0).queue.put_nowait(None)
        pages.append(stream)

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
        from bot import calendar
        from bot.actions.replies import DEFAULT_COUNTER, ReplyBuilder

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
                      "texts": texts}
        self._info_minute = minute
        return self._info

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
                sender = web_sender(request.args.get("sender"))
                after = cursor_value(request.args.get("after"))
            except InboundError as error:
                return response.json(error.as_json(), status=error.status)
            self._app = self._app or request.app
            messages = transcript(await self._events(sender), after)
            cursor = max([after] + [m["ts"] for m in messages])
            return response.json({"messages": messages, "cursor": cursor}, ensure_ascii=False,
                                 headers={"Cache-Control": "no-store"})

        @web.route("/events", methods=["GET"])
        async def events(request: Request):
            try:
                sender = web_sender(request.args.get("sender"))
                page_id = client_id(request.args.get("page")) or uuid.uuid4().hex
                # After a dropped connection the browser sends the last id it saw.
                after = cursor_value(request.headers.get("last-event-id") or request.args.get("after"))
            except InboundError as error:
                return response.json(error.as_json(), status=error.status)
            self._app = self._app or request.app
            stream = PageStream(sender, page_id, after)
            self._open(stream)
            try:
                sse = await request.respond(content_type="text/event-stream; charset=utf-8",
                                            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
                await sse.send(f"retry: 3000\nevent: ready\ndata: {json.dumps({'page': page_id})}\n\n")
                stream.send(transcript(await self._events(sender), after))
                while True:
                    try:
                        chunk = await asyncio.wait_for(stream.queue.get(), timeout=KEEPALIVE_SECONDS)
                    except asyncio.TimeoutError:
                        chunk = ": keep-alive\n\n"
                    if chunk is None:
                        break
                    await sse.send(chunk)
                await sse.send("", end_stream=True)
            finally:
                self._close(stream)

        @web.route("/message", methods=["POST"])
        async def message(request: Request) -> HTTPResponse:
            try:
                body = parse_json_object(request)
                sender = web_sender(body.get("sender"))
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
            collector = AnnotatedCollectingOutputChannel()
            try:
                await on_new_message(UserMessage(inbound.text, collector, sender, input_channel=self.name(),
                                                 message_id=message_id, metadata=metadata))
            except Exception:  # the message is in the tracker; the page keeps the text and offers a retry
                logger.exception("web channel: handling a message failed")
                return response.json({"error": "internal_error",
                                      "message": "Sorry, something went wrong. Please try again. "
                                                 "エラーが起きました。もう一度お試しください。"}, status=500)
            events = await self._events(sender)
            messages = transcript(events, after)
            cursor = max([after] + [m["ts"] for m in messages])
            for page in self._pages.get(sender, ()):
                if page.page == page_id:
                    page.cursor = max(page.cursor, cursor)
            self._sync_other_pages(sender, events, page_id)
            return response.json({"messages": messages, "transient": unstored(collector.messages, messages),
                                  "cursor": cursor, "message_id": message_id}, ensure_ascii=False)

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


def web_sender(value: Any) -> str:
    sender = check_sender(value)
    if not WEB_SENDER.match(sender):
        raise InboundError("invalid_sender", "`sender` must be a web conversation id (web- and 32 hex digits).")
    return sender


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
