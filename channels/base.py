"""The channel contract: what every input channel shares, and what every messaging app repeats.

`Channel` is the small shape of every channel (Rasa's `InputChannel` plus madoguchi's
inbound rules): it is built from the settings (`from_settings`), owns the namespace of
its conversation ids (`web:`, `telegram:`, …), prepares inbound text (`prepare`: limits,
NFKC, redaction) and answers bad input with one JSON error shape (`error_response`).

`MessagingChannel` is the base of the channels of messaging apps (Telegram, LINE) and of
any channel that reaches a resident through a platform's webhook (voice next). It owns the
webhook blueprint (the health route, the server's services for the privacy commands, closing the
platform client when the server stops), redelivery de-duplication (`first_time`), the way
one inbound message goes through the gate (`forward`: prepare → `/delete` → `UserMessage`
→ Rasa, with a polite notice on bad input and on failure) and `push` for staff replies
(bot/delivery.py's `PushChannel`). An adapter writes only what its platform needs:

    class Example(MessagingChannel[int]):      # int: what addresses one resident
        @classmethod
        def name(cls) -> str: return "example"
        @classmethod
        def from_settings(cls, settings) -> "Example": ...
        def user_of(self, address: int) -> str: return str(address)      # → `example:<id>`
        def address_of(self, recipient_id: str) -> int: ...              # the reverse, for push
        output_type = ExampleOutput                                       # a WholeMessageOutput
        async def reply(self, address: int, message: dict) -> None: ...  # one message, now
        async def receive(self, request, on_new_message) -> HTTPResponse:
            ...verify the signature, parse, then for each message:
            if self.first_time(delivery_id):
                await self.forward(address, text, metadata, on_new_message)

Replies are plain bot message dicts (`text`, `buttons`, `image`, `lang`, …); a channel that
speaks them (voice) simply ignores what it cannot say.
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Awaitable, Callable, Dict, Generic, Hashable, List, Optional, Tuple, Type, TypeVar

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import privacy
from bot.catalog import Catalog
from bot.services import Services, services_of
from bot.text import without_lone_surrogates
from channels.inbound import Inbound, InboundError, namespaced_sender, prepare, sender_prefix
from channels.outbound import SeenIds

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
Address = TypeVar("Address")
# How many recent delivery ids a messaging channel remembers (platforms redeliver within minutes).
SEEN_DELIVERIES = 2048
# A channel's own replies are the catalog's `notice_<name>` phrases (NOTICE_PHRASES in
# bot/catalog/model.py); a refusal without a phrase of its own is `invalid_message`.
NOTICE_PREFIX = "notice_"
FALLBACK_NOTICE = "invalid_message"
# Refusals of a resident's message that the page or a client may show them: their `message` is the notice.
RESIDENT_REFUSALS = frozenset({"message_too_long", "empty_message"})


def error_response(error: InboundError) -> HTTPResponse:
    """The one JSON shape of a refused request: `{"error": code, "message": text}`."""
    return response.json(error.as_json(), status=error.status)


def answers_inbound_errors(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """A route whose bad input (InboundError, raised anywhere in it) gets `error_response`; a
    refusal the resident may read says the catalog's notice (Japanese and English)."""
    @functools.wraps(handler)
    async def route(request: Request, *args: Any, **kwargs: Any) -> Any:
        try:
            return await handler(request, *args, **kwargs)
        except InboundError as error:
            if error.code in RESIDENT_REFUSALS:
                error.message = notice_text(await catalog_of(request), error.code, " ", **error.values)
            return error_response(error)

    return route


async def catalog_of(request: Request) -> Catalog:
    """The server's current catalog, for a route that has the request."""
    return await services_of(request.app).catalogs.current()


def health_route(blueprint: Blueprint) -> None:
    """GET `/` under the channel's prefix: `{"status": "ok"}`, as Rasa's channels answer."""
    @blueprint.route("/", methods=["GET"])
    async def health(_: Request) -> HTTPResponse:
        return response.json({"status": "ok"})


async def internal_error(request: Request, headers: Optional[Dict[str, str]] = None) -> HTTPResponse:
    """500 with the error shape and the catalog's `notice_error`: the message is in the tracker,
    the client may send it again."""
    message = notice_text(await catalog_of(request), "error", " ")
    return response.json({"error": "internal_error", "message": message}, status=500, headers=headers)


def parse_json_object(request: Request) -> Dict[str, Any]:
    """The request body as a JSON object; InboundError `malformed_json` (400) otherwise."""
    try:
        body = without_lone_surrogates(request.json, request.body or b"")
    except Exception:
        raise InboundError("malformed_json", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InboundError("malformed_json", "The request body must be a JSON object.")
    return body


def notice_text(catalog: Catalog, notice: str, separator: str = "\n", **values: Any) -> str:
    """A channel's own reply (bad input, non-text, failure): the catalog's `notice_<notice>` phrase
    in Japanese and English together, since the resident's language is not known yet."""
    key = NOTICE_PREFIX + notice
    if key not in catalog.phrases:
        key = NOTICE_PREFIX + FALLBACK_NOTICE
    return catalog.bilingual(key, separator, **{name: str(value) for name, value in values.items()})


class AnnotatedCollectingOutputChannel(CollectingOutputChannel):
    """Collects a turn's replies for a request/response channel (REST, web), keeping `lang`,
    `variant` and `ruby` for the client, and `source`/`link` in `custom`."""

    @classmethod
    def name(cls) -> str:
        return "collector"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._persist_message(self._annotated(recipient_id, text, None, kwargs))

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: Any, **kwargs: Any) -> None:
        await self._persist_message(self._annotated(recipient_id, text, buttons, kwargs))

    def _annotated(self, recipient_id: str, text: str, buttons: Any, extra: Dict[str, Any]) -> Dict[str, Any]:
        message = self._message(recipient_id, text=text, buttons=buttons)
        for key in ("lang", "variant", "ruby"):
            if extra.get(key):
                message[key] = extra[key]
        # Where the answer comes from (procedure, FAQ, section, …) and the page it quotes, in
        # Rasa's `custom` field of the same message: any client or evaluation can tell them apart.
        custom = {key: extra[key] for key in ("source", "link") if isinstance(extra.get(key), dict)}
        if custom:
            message["custom"] = custom
        return message


class WholeMessageOutput(OutputChannel):
    """Rasa's bot messages, each passed whole to `send_response` (text, buttons and image
    belong to one reply); a subclass writes `name` and `send_response` only."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel  # the input channel that sends for this output

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        raise NotImplementedError

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {**kwargs, "text": text})

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: List[Dict[str, Any]],
                                     **kwargs: Any) -> None:
        await self.send_response(recipient_id, {**kwargs, "text": text, "buttons": buttons})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"image": image})


class Channel(InputChannel):
    """Every madoguchi channel: built from the settings, owner of one sender namespace."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars

    @classmethod
    def from_settings(cls, settings: Any) -> "Channel":
        """The channel as the server runs it (bot/server.py registers channels through this)."""
        raise NotImplementedError

    @property
    def sender_prefix(self) -> str:
        """`<name>:`, the start of every conversation id this channel owns."""
        return sender_prefix(self.name())

    def sender_for(self, raw: Any) -> str:
        """The conversation id of the channel's user `raw` (InboundError 403 for another channel's id)."""
        return namespaced_sender(self.name(), raw)

    def prepare(self, text: Any, metadata: Optional[Dict[str, Any]] = None) -> Inbound:
        """Inbound rules (limits, NFKC, My Number/PIN redaction, metadata checks)."""
        return prepare(text, self.max_chars, metadata)


class MessagingChannel(Channel, Generic[Address]):
    """A channel behind a platform's webhook; `Address` is what reaches one resident there."""

    # What a failed push raises besides ValueError (a platform's API errors, timeouts).
    push_errors: Tuple[Type[BaseException], ...] = ()
    # The platform's output channel, built with the input channel (`output_type(self)`).
    output_type: Type[WholeMessageOutput]

    def __init__(self, max_chars: int, api_url: str = "") -> None:
        super().__init__(max_chars)
        self.api_url = api_url.rstrip("/")  # the platform's API (a fake one in tests)
        self._seen = SeenIds(SEEN_DELIVERIES)
        # The server's services (bot/services.py): deleting a conversation needs its database and staff hub.
        self._services: Optional[Services] = None
        self.logger = logging.getLogger(type(self).__module__)

    def require_secret(self, secret: str, setting: str, platform: str) -> None:
        """Without its signing secret a channel refuses every webhook call: say so when it starts."""
        if not secret:
            self.logger.error("%s is not set: every %s webhook call will be refused (403).", setting, platform)

    # --- what an adapter writes ----------------------------------------------------------------
    def user_of(self, address: Address) -> str:
        """The platform's id of the resident at `address` (the part after `<name>:`)."""
        raise NotImplementedError

    def address_of(self, recipient_id: str) -> Address:
        """The address of a conversation id of this channel; ValueError when it is not one."""
        raise NotImplementedError

    def turn_output(self, address: Address) -> OutputChannel:
        """Where Rasa's replies to one inbound message go (by default, straight to the platform)."""
        return self.output_type(self)

    def get_output_channel(self) -> Optional[OutputChannel]:
        """Where Rasa sends messages no inbound message waits for (reminders, `output_channel=latest`)."""
        return self.output_type(self)

    async def reply(self, address: Address, message: Dict[str, Any]) -> None:
        """Send one bot message to `address` now (notices, pushes)."""
        raise NotImplementedError

    async def receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        """The webhook: verify, parse, `forward` each new message; answer the platform."""
        raise NotImplementedError

    async def end_turn(self, address: Address, output: OutputChannel, failed: bool) -> None:
        """After Rasa answered (or failed): by default a failure gets the "error" notice."""
        if failed:
            await self.notify(address, "error")

    async def close(self) -> None:
        """Release the platform client (called when the server stops)."""

    # --- what the contract does ------------------------------------------------------------------
    def first_time(self, delivery_id: Hashable) -> bool:
        """Platforms resend what they think was lost: handle each delivery id once."""
        return self._seen.first_time(delivery_id)

    @property
    def services(self) -> Services:
        """The server's services (set when the server starts or the first webhook call comes in)."""
        if self._services is None:
            raise RuntimeError(f"the {self.name()} channel is not mounted on a madoguchi server")
        return self._services

    async def notice(self, notice: str, **values: Any) -> str:
        """The text of a notice (see `notice_text`), from the server's current catalog."""
        return notice_text(await self.services.catalogs.current(), notice, **values)

    async def notify(self, address: Address, notice: str, **values: Any) -> None:
        await self.reply(address, {"text": await self.notice(notice, **values)})

    async def forward(self, address: Address, text: Any, metadata: Optional[Dict[str, Any]],
                      on_new_message: OnNewMessage) -> None:
        """Inbound rules (NFKC, redaction, limits), then the gate and Rasa; problems get a polite reply.

        The privacy commands (Telegram `/delete`, LINE 「会話を消す」 and their confirmation
        buttons) are answered here; Rasa never sees them.
        """
        try:
            sender = self.sender_for(self.user_of(address))
            inbound = self.prepare(text, metadata)
        except InboundError as error:
            await self.notify(address, error.code, **{"max_chars": self.max_chars, **error.values})
            return
        output = self.turn_output(address)
        failed = False
        try:
            answer = (await privacy.answer_delete_command(self._services, sender, self.name(), inbound.text)
                      if self._services is not None else None)
            if answer is not None:
                await output.send_response(sender, answer)
            else:
                await on_new_message(UserMessage(inbound.text, output, sender, input_channel=self.name(),
                                                 metadata=inbound.metadata))
        except Exception:  # the message is in the tracker; the resident may simply send it again
            self.logger.exception("%s channel: handling a message failed", self.name())
            failed = True
        await self.end_turn(address, output, failed)

    async def push(self, recipient_id: str, message: Dict[str, Any]) -> bool:
        """Staff replies and queue updates, outside a webhook call (bot/delivery.py); True if sent."""
        if not recipient_id.startswith(self.sender_prefix):
            return False
        try:
            await self.reply(self.address_of(recipient_id), message)
        except (ValueError,) + self.push_errors as error:
            self.logger.warning("%s push to %s failed: %s", self.name(), recipient_id, error)
            return False
        return True

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = Blueprint(f"madoguchi_{self.name()}_webhook", type(self).__module__)
        health_route(webhook)

        @webhook.listener("before_server_start")
        async def remember_services(app: Any, _loop: Any) -> None:
            self._services = services_of(app)

        @webhook.listener("after_server_stop")
        async def close_client(_app: Any, _loop: Any) -> None:
            await self.close()

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            self._services = self._services or services_of(request.app)
            return await self.receive(request, on_new_message)

        return webhook
