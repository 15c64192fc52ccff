"""The standard REST channel (`/webhooks/rest/webhook`), with madoguchi's inbound rules.

Same wire format as Rasa's RestInput (`{"sender", "message", "metadata"}` → list of
bot messages), so integrations and checks keep working; on top of it: validation with
clear errors, NFKC normalization, My Number/PIN redaction, and `lang` on every reply.
The conversation id is always `rest:<sender>`: a REST client cannot write to another
channel's conversations (`telegram:…`, `line:…`, `web:…` are refused with 403), and with
MADOGUCHI_REST_TOKEN set every call needs the token (`Authorization: Bearer …` or `?token=…`).
"""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.access import not_authenticated, request_token, token_matches
from channels.inbound import InboundError, namespaced_sender, prepare

logger = logging.getLogger(__name__)
DEFAULT_MAX_CHARS = 2000


class AnnotatedCollectingOutputChannel(CollectingOutputChannel):
    """Collects replies and keeps `lang`, `variant` and `ruby` for the client."""

    @classmethod
    def name(cls) -> Text:
        return "collector"

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self._persist_message(self._annotated(recipient_id, text, None, kwargs))

    async def send_text_with_buttons(self, recipient_id: Text, text: Text, buttons, **kwargs: Any) -> None:
        await self._persist_message(self._annotated(recipient_id, text, buttons, kwargs))

    def _annotated(self, recipient_id: Text, text: Text, buttons, extra: Dict[str, Any]) -> Dict[str, Any]:
        message = self._message(recipient_id, text=text, buttons=buttons)
        for key in ("lang", "variant", "ruby"):
            if extra.get(key):
                message[key] = extra[key]
        return message


class MadoguchiRestInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "rest"

    def __init__(self, max_chars: int = DEFAULT_MAX_CHARS, token: str = "") -> None:
        self.max_chars = max_chars
        self.token = token  # empty: no token needed

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        return cls(int(credentials.get("max_chars", DEFAULT_MAX_CHARS)), str(credentials.get("token") or ""))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("madoguchi_rest_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if self.token and not token_matches(request_token(request), self.token):
                return not_authenticated("The REST channel needs its token "
                                         "(`Authorization: Bearer …` or `?token=…`).")
            try:
                body = parse_json_object(request)
                sender = namespaced_sender(self.name(), body.get("sender"))
                metadata = body.get("metadata")
                if metadata is not None and not isinstance(metadata, dict):
                    raise InboundError("invalid_metadata", "`metadata` must be an object.")
                inbound = prepare(body.get("message"), self.max_chars, metadata)
            except InboundError as error:
                return response.json(error.as_json(), status=error.status)
            collector = AnnotatedCollectingOutputChannel()
            try:
                await on_new_message(UserMessage(inbound.text, collector, sender,
                                                 input_channel=self.name(), metadata=inbound.metadata))
            except Exception:  # the message is in the tracker; tell the client to retry
                logger.exception("rest channel: handling a message failed")
                return response.json({"error": "internal_error",
                                      "message": "Sorry, something went wrong. Please try again."}, status=500)
            return response.json(collector.messages, ensure_ascii=False)

        return webhook


def parse_json_object(request: Request) -> Dict[str, Any]:
    try:
        body = request.json
    except Exception:
        raise InboundError("malformed_json", "The request body is not valid JSON.")
    if not isinstance(body, dict):
        raise InboundError("malformed_json", "The request body must be a JSON object.")
    return body
