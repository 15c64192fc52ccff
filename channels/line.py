"""The LINE channel (`/webhooks/line/webhook`), with madoguchi's inbound rules.

line-bot-sdk 2.x checks `X-Line-Signature` and parses events (`WebhookParser`); replies go
through its asyncio client (`AsyncLineBotApi` on aiohttp), the twin of `LineBotApi`, so a
slow LINE API never blocks the server's event loop. A request that does not carry a valid
signature is refused (403) before its JSON is read. Everything a resident's message makes
the bot say is collected and sent as one reply (the reply token works once, ≤ 5 messages);
what does not fit, and everything outside a webhook call (staff replies), is pushed.

Set up in the LINE Developers console (Messaging API channel): webhook URL
https://<host>/webhooks/line/webhook, "Use webhook" on, auto-reply and greeting messages off;
MADOGUCHI_LINE_CHANNEL_SECRET is the channel secret, MADOGUCHI_LINE_ACCESS_TOKEN a
long-lived channel access token. Only one-to-one chats are served (groups and rooms ignored).
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Text, cast

import aiohttp
from linebot import AsyncLineBotApi, WebhookParser
from linebot.aiohttp_async_http_client import AiohttpAsyncHttpClient
from linebot.exceptions import InvalidSignatureError, LineBotApiError
from linebot.models import (
    Event,
    FollowEvent,
    ImageSendMessage,
    MessageEvent,
    PostbackAction,
    PostbackEvent,
    QuickReply,
    QuickReplyButton,
    SendMessage,
    SourceUser,
    TextMessage,
    TextSendMessage,
    URIAction,
)
from rasa.core.channels.channel import OutputChannel
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.text import DEFAULT_MAX_CHARS
from channels.base import MessagingChannel, OnNewMessage, WholeMessageOutput, error_response
from channels.inbound import InboundError, sender_prefix
from channels.outbound import ShortPayloads, longest_fitting_prefix, text_of
from channels.outbound import split_text as split_platform_text

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.line.me"
SIGNATURE_HEADER = "X-Line-Signature"
SENDER_PREFIX = sender_prefix("line")
USER_ID = re.compile(r"^U[0-9a-f]{32}$")
# Messaging API limits. LINE counts characters; we count UTF-16 units, which is never fewer,
# so an emoji never pushes a part over a limit.
MAX_MESSAGES_PER_CALL = 5
MAX_TEXT_CHARS = 5000
MAX_QUICK_REPLIES = 13
MAX_LABEL_CHARS = 20
MAX_POSTBACK_DATA_CHARS = 300
API_TIMEOUT_SECONDS = 10.0
GREETING = "/greet"  # what a new friend (follow event) gets, like the web page's first screen


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fitting_prefix(text: str, limit: int) -> int:
    """How many characters of `text` fit in `limit` UTF-16 units."""
    return longest_fitting_prefix(text, limit, utf16_len)


def postback_payloads(capacity: int = 10_000) -> ShortPayloads:
    """Payloads as postback `data`, which LINE limits to 300 characters."""
    return ShortPayloads(lambda payload: utf16_len(payload) <= MAX_POSTBACK_DATA_CHARS, capacity)


class LineOutput(WholeMessageOutput):
    """Rasa's bot messages for one LINE user.

    With a reply token it collects the turn's messages until `flush()` sends them as one
    reply; without one (or after the flush) each message is pushed at once.
    """

    channel: "LineInput"

    def __init__(self, channel: "LineInput", user_id: Optional[str] = None, reply_token: Optional[str] = None) -> None:
        super().__init__(channel)
        self.user_id = user_id
        self.reply_token = reply_token
        self.pending: Optional[List[Dict[str, Any]]] = [] if reply_token else None

    @classmethod
    def name(cls) -> Text:
        return "line"

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        if self.pending is not None:
            self.pending.append(dict(message))
        else:
            await self.channel.send(user_id_of(recipient_id), [message])

    async def flush(self) -> None:
        """Send the collected turn with the reply token; later messages are pushed."""
        messages, self.pending = self.pending or [], None
        if messages and self.user_id:
            await self.channel.send(self.user_id, messages, self.reply_token)


class LineAddress(NamedTuple):
    """A LINE user, and the reply token of the event being answered (None outside a webhook call)."""

    user_id: str
    reply_token: Optional[str] = None


class LineInput(MessagingChannel[LineAddress]):
    """LINE on the channel contract (channels/base.py); a resident is addressed by user id
    (and, while answering an event, its reply token)."""

    push_errors = (LineBotApiError, aiohttp.ClientError, TimeoutError)
    output_type = LineOutput

    @classmethod
    def name(cls) -> Text:
        return "line"

    def __init__(self, channel_secret: str, access_token: str, api_url: str = DEFAULT_API_URL,
                 max_chars: int = DEFAULT_MAX_CHARS) -> None:
        super().__init__(max_chars, api_url or DEFAULT_API_URL)
        self.require_secret(channel_secret, "MADOGUCHI_LINE_CHANNEL_SECRET", "LINE")
        self.channel_secret = channel_secret
        self.access_token = access_token
        self.parser = WebhookParser(channel_secret)
        self.payloads = postback_payloads()
        self._api: Optional[AsyncLineBotApi] = None
        self._session: Optional[aiohttp.ClientSession] = None

    @classmethod
    def from_settings(cls, settings: Any) -> "LineInput":
        return cls(settings.line_channel_secret, settings.line_access_token, settings.line_api_url,
                   settings.max_message_chars)

    # --- Messaging API client -------------------------------------------------------------
    def client(self) -> AsyncLineBotApi:
        """The API client, made on first use so its aiohttp session lives in the server's loop."""
        if self._api is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=API_TIMEOUT_SECONDS))
            http = AiohttpAsyncHttpClient(self._session, timeout=aiohttp.ClientTimeout(total=API_TIMEOUT_SECONDS))
            self._api = AsyncLineBotApi(self.access_token, http, endpoint=self.api_url)
        return self._api

    async def close(self) -> None:
        session, self._session, self._api = self._session, None, None
        if session is not None:
            await session.close()

    async def send(self, user_id: str, messages: Sequence[Dict[str, Any]], reply_token: Optional[str] = None) -> None:
        """Bot messages as one reply (first 5 LINE messages) and pushes (the rest, 5 per call).

        A rejected reply token (expired, already used, redelivered event) falls back to push,
        so the resident still gets the answer.
        """
        batch = self.line_messages(messages)
        api = self.client()
        if reply_token and batch:
            first, batch = batch[:MAX_MESSAGES_PER_CALL], batch[MAX_MESSAGES_PER_CALL:]
            try:
                await api.reply_message(reply_token, first)
            except LineBotApiError as error:
                logger.warning("line reply to %s refused (%s): pushing instead", user_id, error.status_code)
                batch = first + batch
        for start in range(0, len(batch), MAX_MESSAGES_PER_CALL):
            await api.push_message(user_id, batch[start:start + MAX_MESSAGES_PER_CALL])

    def line_messages(self, messages: Sequence[Dict[str, Any]]) -> List[SendMessage]:
        """Texts (split at LINE's limit) and https images; the turn's buttons as quick replies
        on the last message, the only place LINE shows them."""
        out: List[SendMessage] = []
        for message in messages:
            out.extend(TextSendMessage(text=part) for part in split_text(text_of(message)))
            url = image_url(message.get("image"))
            if url is not None:
                out.append(ImageSendMessage(original_content_url=url, preview_image_url=url))
        links = [m["link"] for m in messages if isinstance(m.get("link"), dict)]
        quick_reply = self.quick_reply([b for m in messages for b in (m.get("buttons") or [])], links)
        if quick_reply is not None:
            if not out:
                out.append(TextSendMessage(text="▼"))  # LINE needs a message to carry quick replies
            out[-1].quick_reply = quick_reply
        return out

    def quick_reply(self, buttons: Sequence[Any], links: Sequence[Dict[str, Any]] = ()) -> Optional[QuickReply]:
        """Postback buttons: the tap shows the label as the resident's message and sends the payload.
        The page an answer quotes (an FAQ entry's source) comes first, as a link (URI action)."""
        items: List[QuickReplyButton] = [
            QuickReplyButton(action=URIAction(label=short_label(str(link.get("title") or "")) or "URL",
                                              uri=str(link["url"])))
            for link in links[:1] if str(link.get("url") or "").startswith("https://")]
        seen = set()
        for button in buttons:
            if not isinstance(button, dict) or not button.get("payload") or str(button["payload"]) in seen:
                continue
            payload, title = str(button["payload"]), str(button.get("title") or button["payload"])
            seen.add(payload)
            if len(items) == MAX_QUICK_REPLIES:
                logger.warning("line: more than %d buttons in one turn; %r is not shown", MAX_QUICK_REPLIES, payload)
                continue
            label = short_label(title)
            items.append(QuickReplyButton(action=PostbackAction(
                label=label, data=self.payloads.data_for(payload, title), display_text=label)))
        return QuickReply(items=items) if items else None

    # --- the channel contract --------------------------------------------------------------
    def user_of(self, address: LineAddress) -> str:
        return address.user_id

    def address_of(self, recipient_id: str) -> LineAddress:
        return LineAddress(user_id_of(recipient_id))

    def turn_output(self, address: LineAddress) -> LineOutput:
        return LineOutput(self, address.user_id, address.reply_token)

    async def reply(self, address: LineAddress, message: Dict[str, Any]) -> None:
        await self.send(address.user_id, [message], address.reply_token)

    async def end_turn(self, address: LineAddress, output: OutputChannel, failed: bool) -> None:
        """One reply for the whole turn; a failure adds the "error" notice to it."""
        turn = cast(LineOutput, output)
        if failed and turn.pending is not None:
            turn.pending.append({"text": await self.notice("error")})
        await turn.flush()

    # --- inbound ---------------------------------------------------------------------------
    def parse(self, body: bytes, signature: Optional[str]) -> List[Event]:
        """The events of a signed body; InvalidSignatureError (403) or InboundError (400)."""
        if not self.channel_secret or not signature:
            raise InvalidSignatureError("missing signature")
        try:
            text = body.decode("utf-8")  # LINE signs UTF-8 JSON; the SDK validates text
        except UnicodeDecodeError:
            raise InvalidSignatureError("body is not UTF-8") from None
        try:
            return self.parser.parse(text, signature)
        except InvalidSignatureError:
            raise
        except json.JSONDecodeError:
            raise InboundError("malformed_json", "The request body is not valid JSON.") from None
        except Exception:  # the SDK does not validate shapes: wrong ones fail anywhere inside
            raise InboundError("invalid_webhook", "The request body is not a LINE webhook payload.") from None

    def first_event(self, event: Event) -> bool:
        """LINE redelivers an event it thinks was not received, with the same webhookEventId."""
        event_id = getattr(event, "webhook_event_id", None)
        if not isinstance(event_id, str) or not event_id:
            return True
        return self.first_time(event_id)

    async def handle(self, event: Event, on_new_message: OnNewMessage) -> None:
        # In standby mode another module owns the chat (and there is no reply token).
        if getattr(event, "mode", "active") == "standby" or not self.first_event(event):
            return
        user_id = user_id_from(event)
        if user_id is None:  # groups, rooms, malformed sources
            return
        token = getattr(event, "reply_token", None)
        address = LineAddress(user_id, token if isinstance(token, str) and token else None)
        if isinstance(event, MessageEvent):
            if isinstance(event.message, TextMessage):
                await self.forward(address, event.message.text, None, on_new_message)
            else:  # sticker, image, video, audio, location, file
                await self.notify(address, "non_text")
        elif isinstance(event, PostbackEvent):
            data = getattr(event.postback, "data", None)
            payload = self.payloads.payload_for(data) if isinstance(data, str) else None
            if payload is None:
                await self.notify(address, "expired_button")
                return
            title = self.payloads.title_for(cast(str, data))  # a str: it gave a payload
            await self.forward(address, payload, {"title": title} if title else None, on_new_message)
        elif isinstance(event, FollowEvent):
            await self.forward(address, GREETING, None, on_new_message)
        # Anything else (unfollow, join, unsend, new event types) is not for us.

    async def receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        try:
            events = self.parse(request.body or b"", request.headers.get(SIGNATURE_HEADER))
        except InvalidSignatureError:
            return response.json({"error": "forbidden", "message": "Missing or wrong X-Line-Signature."}, status=403)
        except InboundError as error:
            return error_response(error)
        for event in events:
            try:
                await self.handle(event, on_new_message)
            except Exception:  # e.g. LINE unreachable: a redelivery would not help either
                logger.exception("line channel: event %s was not fully handled",
                                 getattr(event, "webhook_event_id", "?"))
        return response.json({})


def user_id_from(event: Event) -> Optional[str]:
    source = getattr(event, "source", None)
    user_id = getattr(source, "user_id", None)
    if isinstance(source, SourceUser) and isinstance(user_id, str) and USER_ID.match(user_id):
        return user_id
    return None


def user_id_of(recipient_id: str) -> str:
    """`line:U…` → the LINE user id (ValueError for another channel's conversation)."""
    user_id = recipient_id[len(SENDER_PREFIX):] if recipient_id.startswith(SENDER_PREFIX) else ""
    if not USER_ID.match(user_id):
        raise ValueError(f"not a LINE conversation: {recipient_id!r}")
    return user_id


def short_label(title: str) -> str:
    """Quick reply labels hold 20 characters: longer titles end with an ellipsis."""
    title = " ".join(title.split()) or "…"
    if utf16_len(title) <= MAX_LABEL_CHARS:
        return title
    return title[:fitting_prefix(title, MAX_LABEL_CHARS - 1)] + "…"


def split_text(text: str, limit: int = MAX_TEXT_CHARS) -> List[str]:
    """Parts that fit LINE's text limit (counted in UTF-16 units), cut at line ends where possible."""
    return split_platform_text(text, limit, utf16_len)


def image_url(image: Any) -> Optional[str]:
    """An https image URL as is. LINE fetches images itself and only from HTTPS URLs, so a
    data URL (a visit slip's QR code) cannot be sent: the resident gets the slip's text."""
    if isinstance(image, str) and image.startswith("https://"):
        return image
    return None
