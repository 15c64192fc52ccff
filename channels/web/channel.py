"""The web channel's routes (`/webhooks/web/`) and its delivery outside a request.

Routes:
  GET  /              the chat page (also served at `/`, see `page.root_page_blueprint`)
  GET  /widget.js     one `<script>` tag that embeds the page on the city's site
  GET  /static/*      the page's CSS/JS
  GET  /info          counter name, address, hours, phone in ja/en/easy; kiosk settings
  GET  /history       transcript after a cursor, from the tracker
  GET  /events        SSE stream of new messages for the conversation (`?check=1`: would it open?)
  POST /message       one resident message → the messages after the client's cursor
  POST /conversation  start a new conversation (new cookie, or a new token when embedded)
  POST /stream-ticket a one-time ticket for the embedded page's stream
  POST /delete        delete the conversation everywhere (bot/privacy.py); a new one starts
  POST /speech        「読み上げ」: the server's audio of one bot message of this conversation (speech.py)
"""
from __future__ import annotations

import asyncio
import logging
import re
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.core.channels.channel import OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import privacy, sse
from bot.redaction import clean_inbound
from bot.services import Services, services_of
from bot.settings import Settings
from bot.text import DEFAULT_MAX_CHARS, LANGUAGES, shared_tagger
from channels.base import (
    AnnotatedCollectingOutputChannel,
    Channel,
    OnNewMessage,
    WholeMessageOutput,
    answers_inbound_errors,
    catalog_of,
    internal_error,
    notice_text,
    parse_json_object,
)
from channels.inbound import InboundError
from channels.web.identity import CONVERSATION_HEADER, StreamTickets, Visitor, cookie_headers, fresh_start, visitor_of
from channels.web.info import CounterInfo
from channels.web.page import STATIC_DIR, chat_page
from channels.web.speech import ReadAloud, parse_speech_request, spoken_message
from channels.web.streams import MAX_PAGES_PER_CONVERSATION, PageStream, PageStreams, too_many_pages
from channels.web.transcript import latest_cursor, shape_message, transcript, unstored

logger = logging.getLogger(__name__)

CLIENT_ID = re.compile(r"^[0-9a-f]{8,64}$")
MAX_TITLE_CHARS = 100


class WebPushOutputChannel(WholeMessageOutput):
    """Bot messages produced outside a page's request, sent to the conversation's open tabs.

    They go out before Rasa saves the tracker, so without an id; the page matches them
    with the stored copy when that arrives later (by text), so nothing shows twice.
    """

    channel: "WebInput"

    @classmethod
    def name(cls) -> Text:
        return "web"

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        shaped = shape_message(message)
        if shaped["text"] or shaped.get("buttons"):
            self.channel.push_transient(recipient_id, shaped)


class WebInput(Channel):
    """Rasa input channel `web`: the accessible chat page and its live transport."""

    @classmethod
    def name(cls) -> Text:
        return "web"

    def __init__(self, max_chars: int = DEFAULT_MAX_CHARS, static_dir: Path = STATIC_DIR,
                 settings: Optional[Settings] = None) -> None:
        super().__init__(max_chars)
        self.settings = settings or Settings()
        self.static_dir = Path(static_dir)
        self.streams = PageStreams()
        self.tickets = StreamTickets()
        self.counter_info = CounterInfo(max_chars)
        self.read_aloud = ReadAloud()
        self._services: Optional[Services] = None  # the server's: the agent's tracker store, the catalog, the bus

    @classmethod
    def from_settings(cls, settings: Any) -> "WebInput":
        return cls(settings.max_message_chars, settings=settings)

    # --- delivery outside a request (staff replies, queue updates) --------------------
    async def push(self, recipient_id: str, message: Dict[str, Any]) -> bool:
        """Deliver to every open tab of the conversation; False when none is open.

        The tracker already holds a staff reply when this is called, so each tab gets
        everything after its cursor (the new message and anything it missed). A message
        that is not in the tracker (e.g. a queue-position update) goes out as is.
        """
        pages = self.streams.of(recipient_id)
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
        return self.streams.send_transient(recipient_id, message)

    def get_output_channel(self) -> Optional[OutputChannel]:
        """Where Rasa sends bot messages that no request waits for (reminders,
        `trigger_intent?output_channel=latest`): straight to the open tabs."""
        return WebPushOutputChannel(self)

    def _open(self, stream: PageStream) -> bool:
        return self.streams.open(stream)

    async def _events(self, sender: str) -> List[Any]:
        agent = self._services.agent.current() if self._services is not None else None
        if agent is None or agent.tracker_store is None:
            return []
        # All sessions: a conversation resumed after the session expired still shows its past.
        tracker = await agent.tracker_store.retrieve_full_tracker(sender)
        return list(tracker.events) if tracker is not None else []

    def _cookie(self, visitor: Visitor) -> Dict[str, str]:
        return cookie_headers(visitor, self.settings)

    # --- HTTP ------------------------------------------------------------------------------
    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        web = Blueprint("madoguchi_web", __name__)
        web.static("/static", str(self.static_dir), name="web_static")

        @web.listener("before_server_start")
        async def remember_services(app: Any, loop: Any) -> None:
            services = self._services = services_of(app)
            self.streams.attach(services.bus, self._events)  # tabs held by other replicas (bot/pubsub.py)
            # Load the dictionary and the catalog now rather than during a resident's first request.
            await loop.run_in_executor(None, lambda: (shared_tagger(),
                                                      self.counter_info(services.catalogs, self.settings)))

        @web.listener("before_server_stop")
        async def close_streams(_app: Any, _loop: Any) -> None:
            self.streams.close_all()

        @web.route("/", methods=["GET", "HEAD"])
        async def page(_: Request) -> HTTPResponse:
            return await chat_page(self.static_dir)

        @web.route("/widget.js", methods=["GET"])
        async def widget(_: Request) -> HTTPResponse:
            return await response.file(str(self.static_dir / "widget.js"), headers={"Cache-Control": "no-cache"})

        @web.route("/info", methods=["GET"])
        async def info(request: Request) -> HTTPResponse:
            # Off the event loop: reading the catalog's YAML must not hold up live streams.
            catalogs = services_of(request.app).catalogs
            body = await asyncio.get_running_loop().run_in_executor(None, self.counter_info, catalogs, self.settings)
            return response.json(body, ensure_ascii=False, headers={"Cache-Control": "no-cache"})

        @web.route("/history", methods=["GET"])
        @answers_inbound_errors
        async def history(request: Request) -> HTTPResponse:
            visitor = visitor_of(request)
            after = cursor_value(request.args.get("after"))
            messages = [] if visitor.new else transcript(await self._events(visitor.conversation_id), after)
            return response.json({"messages": messages, "cursor": latest_cursor(after, messages)},
                                 ensure_ascii=False, headers={"Cache-Control": "no-store", **self._cookie(visitor)})

        @web.route("/events", methods=["GET"])
        @answers_inbound_errors
        async def events(request: Request) -> Optional[HTTPResponse]:
            if request.args.get("ticket") is not None:
                sender, cookie = self.tickets.redeem(request.args.get("ticket")), {}
            else:
                visitor = visitor_of(request)
                sender, cookie = visitor.conversation_id, self._cookie(visitor)
            page_id = client_id(request.args.get("page")) or uuid.uuid4().hex
            # After a dropped connection the browser sends the last id it saw.
            after = cursor_value(request.headers.get("last-event-id") or request.args.get("after"))
            return await self._stream(request, sender, page_id, after, cookie)

        @web.route("/message", methods=["POST"])
        @answers_inbound_errors
        async def message(request: Request) -> HTTPResponse:
            visitor = visitor_of(request)
            sender = visitor.conversation_id
            body = parse_json_object(request)
            after = cursor_value(body.get("after"))
            message_id = client_id(body.get("message_id")) or uuid.uuid4().hex
            page_id = client_id(body.get("page")) or ""
            inbound = self.prepare(body.get("message"))
            metadata = dict(inbound.metadata)
            title = button_title(body.get("title"), inbound.text)
            if title:
                metadata["title"] = title
            cookie = self._cookie(visitor)
            collector = AnnotatedCollectingOutputChannel()
            try:
                await on_new_message(UserMessage(inbound.text, collector, sender, input_channel=self.name(),
                                                 message_id=message_id, metadata=metadata))
            except Exception:  # the message is in the tracker; the page keeps the text and offers a retry
                logger.exception("web channel: handling a message failed")
                return await internal_error(request, headers=cookie)
            events = await self._events(sender)
            messages = transcript(events, after)
            cursor = latest_cursor(after, messages)
            self.streams.advance(sender, page_id, cursor)
            self.streams.sync(sender, events, except_page=page_id)
            return response.json({"messages": messages, "transient": unstored(collector.messages, messages),
                                  "cursor": cursor, "message_id": message_id}, ensure_ascii=False, headers=cookie)

        @web.route("/conversation", methods=["POST"])
        @answers_inbound_errors
        async def new_conversation(request: Request) -> HTTPResponse:
            """A new conversation: a new cookie, or a new in-memory token for the embedded page."""
            body = parse_json_object(request) if request.body else {}
            embedded = body.get("embed") is True or request.headers.get(CONVERSATION_HEADER) is not None
            payload, headers = fresh_start(embedded, self.settings)
            return response.json(payload, headers=headers)

        @web.route("/stream-ticket", methods=["POST"])
        @answers_inbound_errors
        async def stream_ticket(request: Request) -> HTTPResponse:
            visitor = visitor_of(request)
            return response.json({"ticket": self.tickets.issue(visitor.conversation_id)},
                                 headers={"Cache-Control": "no-store", **self._cookie(visitor)})

        @web.route("/speech", methods=["POST"])
        @answers_inbound_errors
        async def read_aloud(request: Request) -> HTTPResponse:
            """The audio URL of one bot message of the caller's own conversation, at a pace."""
            visitor = visitor_of(request)
            asked = parse_speech_request(parse_json_object(request))
            message = None
            if not visitor.new:  # a visitor without a conversation has no messages: 404 as for an id not theirs
                self.read_aloud.admit(visitor.conversation_id)
                message = spoken_message(await self._events(visitor.conversation_id), asked.message_id)
            if message is None:
                raise InboundError("no_such_message", "No such bot message in this conversation.", status=404)
            speech_service = services_of(request.app).speech
            audio = await self.read_aloud.audio(speech_service, message, asked.pace)
            return response.json({"url": speech_service.url_for(audio), "seconds": audio.seconds,
                                  "pace": asked.pace}, headers={"Cache-Control": "no-store"})

        @web.route("/delete", methods=["POST"])
        @answers_inbound_errors
        async def delete_conversation(request: Request) -> HTTPResponse:
            """「この会話を消す」: everything of this conversation goes; the page starts afresh."""
            visitor = visitor_of(request)
            body = parse_json_object(request) if request.body else {}
            page_id = client_id(body.get("page")) or ""
            sender = visitor.conversation_id
            chosen = body.get("language")
            services = services_of(request.app)
            language = chosen if isinstance(chosen, str) and chosen in LANGUAGES else \
                await privacy.conversation_language(services, sender)
            deletion = await privacy.delete_conversation(services, sender, self.name())
            self.streams.reset(sender, page_id)
            loop = asyncio.get_running_loop()
            reply = await loop.run_in_executor(None, privacy.deleted_message, await services.catalogs.current(),
                                               deletion, language)
            payload, headers = fresh_start(visitor.embedded, self.settings)
            payload.update(deleted=deletion.summary(), message=shape_message(reply))
            return response.json(payload, ensure_ascii=False, headers=headers)

        return web

    @staticmethod
    async def _refusal(request: Request, notice: str) -> str:
        """A refused stream's message: the catalog's notice in Japanese and English."""
        return notice_text(await catalog_of(request), notice, " ", pages=MAX_PAGES_PER_CONVERSATION)

    async def _stream(self, request: Request, sender: str, page_id: str, after: float,
                      cookie: Dict[str, str]) -> Optional[HTTPResponse]:
        """The tab's live stream (bot/sse.py): everything after `after`, then each new message."""
        slots = services_of(request.app).sse_slots
        if self.streams.full(sender):
            return too_many_pages(await self._refusal(request, "too_many_pages"))
        if slots.full:
            return sse.server_busy(message=await self._refusal(request, "server_busy"))
        if request.args.get("check"):  # the page asks why its stream failed
            return response.empty(headers=cookie)
        stream = PageStream(sender, page_id, after)
        if not self.streams.open(stream):
            return too_many_pages(await self._refusal(request, "too_many_pages"))
        if not slots.acquire():
            self.streams.close(stream)
            return sse.server_busy(message=await self._refusal(request, "server_busy"))
        try:
            live = await sse.open_stream(request, headers=cookie)
            await live.send(sse.event("ready", {"page": page_id}))
            stream.send(transcript(await self._events(sender), after))
            await sse.relay(live, stream.queue)
        finally:
            slots.release()
            self.streams.close(stream)
        return None


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
        raise InboundError("invalid_cursor", "`after` must be a number (a message timestamp).") from None
    if cursor != cursor or cursor < 0 or cursor == float("inf"):
        raise InboundError("invalid_cursor", "`after` must be a number (a message timestamp).")
    return cursor


def button_title(value: Any, text: str) -> Optional[str]:
    """The label of the button that sent a payload; shown instead of `/intent{...}`."""
    if value is None or not text.startswith("/"):
        return None
    if not isinstance(value, str):
        raise InboundError("invalid_title", "`title` must be a string.")
    return clean_inbound(value[:MAX_TITLE_CHARS]).text or None
