"""The Telegram channel (`/webhooks/telegram/webhook`), with madoguchi's inbound rules.

python-telegram-bot is used only as a typed Bot API client (`telegram.Bot`) and parser
(`Update.de_json`); Rasa's built-in Telegram channel (aiogram) does not install beside our
pins. Telegram calls the webhook with the `secret_token` given to `setWebhook`; a request
without it is refused before anything is parsed. Every update gets a 200 once handled
(a non-2xx makes Telegram resend the update, and the resident would get answers twice).

Set the webhook once (the secret is MADOGUCHI_TELEGRAM_SECRET: 1–256 of A-Z a-z 0-9 _ -):
  curl "https://api.telegram.org/bot$TOKEN/setWebhook" \\
       -d url=https://<host>/webhooks/telegram/webhook -d secret_token=$SECRET \\
       -d 'allowed_updates=["message","edited_message","callback_query"]'
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
from functools import partial
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, Text, Union

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse
from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from bot.text import DEFAULT_MAX_CHARS, without_lone_surrogates
from channels.base import MessagingChannel, OnNewMessage, WholeMessageOutput, error_response
from channels.inbound import InboundError, sender_prefix
from channels.outbound import MAX_TITLE_CHARS, ShortPayloads, text_of
from channels.outbound import split_text as split_platform_text

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SENDER_PREFIX = sender_prefix("telegram")
MAX_CALLBACK_DATA_BYTES = 64  # Bot API limit for InlineKeyboardButton.callback_data
MAX_TEXT_CHARS = 4096  # Bot API limit for sendMessage.text
MAX_CALLBACK_ANSWER_CHARS = 200  # Bot API limit for answerCallbackQuery.text
# Telegram may send several updates at once; PTB's default pool of one connection would queue them.
CONNECTION_POOL_SIZE = 8
# /start is what Telegram sends when a resident opens the bot: greet them like the web page does.
COMMANDS = {"/start": "/greet", "/help": "/greet"}


def callback_payloads(capacity: int = 10_000) -> ShortPayloads:
    """Payloads as `callback_data`, which the Bot API limits to 64 bytes."""
    return ShortPayloads(lambda payload: len(payload.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES, capacity)


class TelegramOutput(WholeMessageOutput):
    """Sends Rasa's bot messages through the channel's Bot API client."""

    channel: "TelegramInput"

    @classmethod
    def name(cls) -> Text:
        return "telegram"

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        await self.channel.send(chat_id_of(recipient_id), message)


class TelegramInput(MessagingChannel[int]):
    """Telegram on the channel contract (channels/base.py); a resident is addressed by chat id."""

    push_errors = (TelegramError,)
    output_type = TelegramOutput

    @classmethod
    def name(cls) -> Text:
        return "telegram"

    def __init__(self, token: str, secret: str, api_url: str = DEFAULT_API_URL,
                 max_chars: int = DEFAULT_MAX_CHARS) -> None:
        super().__init__(max_chars, api_url or DEFAULT_API_URL)
        self.require_secret(secret, "MADOGUCHI_TELEGRAM_SECRET", "Telegram")
        self.token = token
        self.secret = secret
        self.payloads = callback_payloads()
        self._bot: Optional[Bot] = None
        self._bot_lock: Optional[asyncio.Lock] = None

    @classmethod
    def from_settings(cls, settings: Any) -> "TelegramInput":
        return cls(settings.telegram_token, settings.telegram_secret, settings.telegram_api_url,
                   settings.max_message_chars)

    # --- Bot API client ------------------------------------------------------------------
    async def client(self) -> Bot:
        """The Bot API client, made on first use in the server's event loop (getMe checks the token)."""
        if self._bot is None:
            self._bot_lock = self._bot_lock or asyncio.Lock()
            async with self._bot_lock:
                if self._bot is None:
                    bot = Bot(self.token, base_url=f"{self.api_url}/bot", base_file_url=f"{self.api_url}/file/bot",
                              request=HTTPXRequest(connection_pool_size=CONNECTION_POOL_SIZE))
                    await bot.initialize()
                    self._bot = bot
        return self._bot

    async def close(self) -> None:
        bot, self._bot = self._bot, None
        if bot is not None:
            await bot.shutdown()

    async def send(self, chat_id: int, message: Dict[str, Any]) -> None:
        """One bot message: its text (split at Telegram's limit), then its image; buttons on the last part."""
        bot = await self.client()
        keyboard = self.keyboard(message.get("buttons"), message.get("link"))
        photo = photo_of(message.get("image"))
        chunks = split_text(text_of(message))
        if not chunks and photo is None and keyboard is not None:
            chunks = ["▼"]  # Telegram needs some text to carry a keyboard
        for number, chunk in enumerate(chunks, start=1):
            last = number == len(chunks) and photo is None
            await call_with_retry(partial(bot.send_message, chat_id, chunk, reply_markup=keyboard if last else None))
        if photo is not None:
            await call_with_retry(partial(bot.send_photo, chat_id, photo, reply_markup=keyboard))

    def keyboard(self, buttons: Any, link: Any = None) -> Optional[InlineKeyboardMarkup]:
        """One button per row: long Japanese labels stay readable and easy to tap. The page an
        answer quotes (an FAQ entry's source) comes first, as a link button."""
        rows = [[InlineKeyboardButton(str(b.get("title") or b["payload"]),
                                      callback_data=self.payloads.data_for(str(b["payload"])))]
                for b in (buttons or []) if isinstance(b, dict) and b.get("payload")]
        if isinstance(link, dict) and str(link.get("url") or "").startswith("https://"):
            rows.insert(0, [InlineKeyboardButton(str(link.get("title") or link["url"]), url=str(link["url"]))])
        return InlineKeyboardMarkup(rows) if rows else None

    # --- the channel contract --------------------------------------------------------------
    def user_of(self, address: int) -> str:
        return str(address)

    def address_of(self, recipient_id: str) -> int:
        return chat_id_of(recipient_id)

    async def reply(self, address: int, message: Dict[str, Any]) -> None:
        await self.send(address, message)

    # --- inbound ---------------------------------------------------------------------------
    def verify(self, header: Optional[str]) -> bool:
        if not self.secret or not header:
            return False
        return hmac.compare_digest(header.encode("utf-8", "replace"), self.secret.encode("utf-8"))

    async def receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        if not self.verify(request.headers.get(SECRET_HEADER)):
            return response.json({"error": "forbidden", "message": "Missing or wrong secret token."}, status=403)
        try:
            update = parse_update(request.body)
        except InboundError as error:
            return error_response(error)
        # Telegram resends an update it thinks was not delivered: handle each id once.
        if self.first_time(update.update_id):
            try:
                await self.handle(update, on_new_message)
            except Exception:  # e.g. Telegram unreachable: a retry would not help either
                logger.exception("telegram channel: update %s was not fully handled", update.update_id)
        return response.json({"ok": True})

    async def handle(self, update: Update, on_new_message: OnNewMessage) -> None:
        if update.callback_query is not None:
            await self.handle_button(update.callback_query, on_new_message)
        elif update.message is not None:
            await self.handle_message(update.message, on_new_message)
        elif update.edited_message is not None and valid_chat_id(update.edited_message.chat.id):
            await self.notify(update.edited_message.chat.id, "edited")
        # Anything else (channel posts, membership changes, new update types) is not for us.

    async def handle_message(self, message: Message, on_new_message: OnNewMessage) -> None:
        chat_id = message.chat.id
        if not valid_chat_id(chat_id):
            return
        if message.text is None:  # sticker, photo, voice, location, …
            await self.notify(chat_id, "non_text")
            return
        await self.forward(chat_id, command_text(message.text), None, on_new_message)

    async def handle_button(self, query: CallbackQuery, on_new_message: OnNewMessage) -> None:
        payload = self.payloads.payload_for(query.data) if isinstance(query.data, str) else None
        bot = await self.client()
        try:  # first, so the resident's button stops spinning while Rasa works
            await bot.answer_callback_query(
                query.id, text=None if payload else (await self.notice("expired_button"))[:MAX_CALLBACK_ANSWER_CHARS])
        except TelegramError as error:
            logger.warning("answerCallbackQuery failed: %s", error)
        chat_id = query.message.chat.id if query.message is not None else query.from_user.id
        if payload is None or not valid_chat_id(chat_id):
            return
        title = button_title(query.message, query.data)
        await self.forward(chat_id, payload, {"title": title} if title else None, on_new_message)


def parse_update(body: bytes) -> Update:
    """An Update from the raw body; InboundError (400) for anything that is not one."""
    try:
        data = without_lone_surrogates(json.loads(body or b""), body or b"")
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested a thousand deep
        raise InboundError("malformed_json", "The request body is not valid JSON.") from None
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise InboundError("invalid_update", "The request body is not a Telegram Update.")
    try:
        return Update.de_json(data, None)
    except Exception:  # PTB does not validate types: wrong shapes fail anywhere inside
        raise InboundError("invalid_update", "The request body is not a Telegram Update.") from None


def valid_chat_id(chat_id: Any) -> bool:
    return isinstance(chat_id, int) and not isinstance(chat_id, bool)


def chat_id_of(recipient_id: str) -> int:
    """`telegram:<chat id>` → the chat id (ValueError for another channel's conversation)."""
    if not recipient_id.startswith(SENDER_PREFIX):
        raise ValueError(f"not a Telegram conversation: {recipient_id!r}")
    return int(recipient_id[len(SENDER_PREFIX):])


def command_text(text: Any) -> Any:
    """`/start@city_bot deep-link` → `/greet`; other text unchanged."""
    if not isinstance(text, str) or not text.startswith("/"):
        return text
    command = text.split(maxsplit=1)[0].split("@", 1)[0].lower()
    return COMMANDS.get(command, text)


def button_title(message: Any, data: Optional[str]) -> Optional[str]:
    """The label of the pressed button, kept for the transcript instead of `/intent{…}`."""
    markup = getattr(message, "reply_markup", None)
    for row in getattr(markup, "inline_keyboard", ()) or ():
        for button in row:
            if button.callback_data == data and button.text:
                return str(button.text)[:MAX_TITLE_CHARS]
    return None


def split_text(text: str, limit: int = MAX_TEXT_CHARS) -> List[str]:
    """Parts of at most Telegram's message length, cut at line ends where possible."""
    return split_platform_text(text, limit)


def photo_of(image: Any) -> Optional[Union[bytes, str]]:
    """PNG/JPEG bytes from a data URL (e.g. a visit slip's QR code), or an https URL as is."""
    if not isinstance(image, str) or not image:
        return None
    if image.startswith("data:"):
        header, _, data = image.partition(",")
        if not header.endswith(";base64"):
            return None
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            logger.warning("telegram channel: an image data URL is not valid base64")
            return None
    return image if image.startswith(("https://", "http://")) else None


async def call_with_retry(call: Callable[[], Awaitable[Any]], retries: Sequence[float] = (5.0,)) -> Any:
    """One retry when Telegram asks us to slow down (flood control), if the wait is short."""
    for limit in retries:
        try:
            return await call()
        except RetryAfter as error:
            wait = error.retry_after.total_seconds() if hasattr(error.retry_after, "total_seconds") \
                else float(error.retry_after)
            if wait > limit:
                raise
            await asyncio.sleep(wait)
    return await call()
