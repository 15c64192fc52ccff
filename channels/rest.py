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
from typing import Any, Text

from rasa.core.channels.channel import UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.access import not_authenticated, request_token, token_matches
from bot.text import DEFAULT_MAX_CHARS
from channels.base import (
    AnnotatedCollectingOutputChannel,
    Channel,
    OnNewMessage,
    answers_inbound_errors,
    health_route,
    internal_error,
    parse_json_object,
)
from channels.inbound import InboundError

logger = logging.getLogger(__name__)


class MadoguchiRestInput(Channel):
    @classmethod
    def name(cls) -> Text:
        return "rest"

    def __init__(self, max_chars: int = DEFAULT_MAX_CHARS, token: str = "") -> None:
        super().__init__(max_chars)
        self.token = token  # empty: no token needed

    @classmethod
    def from_settings(cls, settings: Any) -> "MadoguchiRestInput":
        return cls(settings.max_message_chars, settings.rest_token)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = Blueprint("madoguchi_rest_webhook", __name__)
        health_route(webhook)

        @webhook.route("/webhook", methods=["POST"])
        @answers_inbound_errors
        async def receive(request: Request) -> HTTPResponse:
            if self.token and not token_matches(request_token(request), self.token):
                return not_authenticated("The REST channel needs its token "
                                         "(`Authorization: Bearer …` or `?token=…`).")
            body = parse_json_object(request)
            sender = self.sender_for(body.get("sender"))
            metadata = body.get("metadata")
            if metadata is not None and not isinstance(metadata, dict):
                raise InboundError("invalid_metadata", "`metadata` must be an object.")
            inbound = self.prepare(body.get("message"), metadata)
            collector = AnnotatedCollectingOutputChannel()
            try:
                await on_new_message(UserMessage(inbound.text, collector, sender,
                                                 input_channel=self.name(), metadata=inbound.metadata))
            except Exception:  # the message is in the tracker; tell the client to retry
                logger.exception("rest channel: handling a message failed")
                return await internal_error(request)
            return response.json(collector.messages, ensure_ascii=False)

        return webhook
