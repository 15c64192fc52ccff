"""A channel is added in one place, bot/senders.py's `CHANNELS`, and everything else follows.

The test adds a throwaway channel (`carrier`, a fake messaging platform defined here) to that
list only, then shows what the list gives it: the server builds and mounts it, its namespace is
its own (accepted there, refused to every other channel), a message goes through it to the
gate, a deletion on it counts it by name and the analytics gives it a column after the others.
No model and no server process: each piece is exercised in this process.
"""
from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any, Dict, List

import pytest
from rasa.core.channels.channel import UserMessage
from sanic import response

from bot import privacy, senders
from bot.admin import analytics
from bot.delivery import Delivery
from bot.senders import DELETE_BY_COMMAND, ChannelSpec
from bot.server import input_channels
from bot.settings import Settings
from bot.store import Database
from bot.store.models import Handoff
from channels.base import MessagingChannel, WholeMessageOutput
from channels.inbound import InboundError, namespace_of, namespaced_sender

NAME = "carrier"


class CarrierOutput(WholeMessageOutput):
    @classmethod
    def name(cls) -> str:
        return NAME

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        await self.channel.reply(self.channel.address_of(recipient_id), message)


class CarrierInput(MessagingChannel[str]):
    """The smallest messaging channel: a JSON webhook `{"user", "text"}`, replies kept in `sent`."""

    output_type = CarrierOutput

    def __init__(self, max_chars: int) -> None:
        super().__init__(max_chars)
        self.sent: List[Dict[str, Any]] = []

    @classmethod
    def name(cls) -> str:
        return NAME

    @classmethod
    def from_settings(cls, settings: Settings) -> "CarrierInput":
        return cls(settings.max_message_chars)

    def user_of(self, address: str) -> str:
        return address

    def address_of(self, recipient_id: str) -> str:
        if not recipient_id.startswith(self.sender_prefix):
            raise ValueError(recipient_id)
        return recipient_id[len(self.sender_prefix):]

    async def reply(self, address: str, message: Dict[str, Any]) -> None:
        self.sent.append({"to": address, **message})

    async def receive(self, request: Any, on_new_message: Any) -> Any:
        body = request.json
        await self.forward(body["user"], body["text"], None, on_new_message)
        return response.json({"ok": True})


@pytest.fixture
def carrier(monkeypatch) -> ChannelSpec:
    """The throwaway channel, registered in the one place a channel is registered."""
    spec = ChannelSpec(NAME, f"{__name__}:CarrierInput", lambda settings: True, deletion=DELETE_BY_COMMAND)
    monkeypatch.setattr(senders, "CHANNELS", senders.CHANNELS + (spec,))
    return spec


def test_the_server_builds_the_registered_channel(carrier):
    built = input_channels(Settings())
    assert [channel.name() for channel in built][-1] == NAME
    assert isinstance(built[-1], CarrierInput)
    assert Delivery(built).supports(NAME)  # staff replies can reach its residents


def test_its_namespace_is_its_own(carrier):
    assert namespaced_sender(NAME, "u1") == "carrier:u1"
    assert namespaced_sender(NAME, "carrier:u1") == "carrier:u1"  # never double-prefixed
    assert namespace_of("CARRIER:u1") == NAME  # case does not slip past
    for other in ("rest", "web", "telegram"):
        with pytest.raises(InboundError) as refused:
            namespaced_sender(other, "carrier:u1")
        assert refused.value.status == 403 and refused.value.code == "foreign_sender"


def test_without_registration_the_namespace_is_unknown():
    assert namespace_of("carrier:u1") is None
    with pytest.raises(ValueError):
        namespaced_sender(NAME, "u1")


def test_a_message_goes_through_it_to_the_gate(carrier):
    channel = input_channels(Settings())[-1]
    received: List[UserMessage] = []

    async def gate(message: UserMessage) -> None:
        received.append(message)
        await message.output_channel.send_text_message(message.sender_id, "こんにちは")

    asyncio.run(channel.forward("u1", "ｼﾞｭｳﾐﾝﾋｮｳ", None, gate))
    assert [(m.sender_id, m.input_channel, m.text) for m in received] == [("carrier:u1", NAME, "ジュウミンヒョウ")]
    assert channel.sent == [{"to": "u1", "text": "こんにちは"}]


def test_privacy_and_analytics_count_it(carrier, tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'madoguchi.db'}")
    db.create_tables()
    queued = dt.datetime(2026, 11, 14, 1, 0)  # 10:00 in Japan
    with db.session() as session:
        for conversation_id in ("carrier:u1", "web:w1", "rest:r1"):
            session.add(Handoff(conversation_id=conversation_id, channel=conversation_id.split(":")[0],
                                state="closed", section="shimin", queued_at=queued, updated_at=queued))
    deletions = [privacy.delete_rows(db, cid) for cid in ("carrier:u1", "web:w1", "rest:r1")]
    assert [deletion.channel for deletion in deletions] == [NAME, "web", "rest"]
    assert {row["channel"]: row["conversations"] for row in privacy.stats(db)} == {NAME: 1, "web": 1, "rest": 1}

    period = analytics.Period(dt.date(2026, 11, 14), dt.date(2026, 11, 14), "Asia/Tokyo")
    numbers = analytics.compute(db, period, [])
    assert numbers["channels"] == ["web", "rest", NAME]  # the list's order: the new channel last
    assert numbers["per_day"] == [{"day": "2026-11-14", "web": 1, "rest": 1, NAME: 1}]


def test_every_listed_channel_is_built_from_its_module():
    """The list names real classes whose name is the namespace, and a channel that says residents
    delete by a typed command is a messaging channel (that is where the command is answered)."""
    import importlib

    for spec in senders.CHANNELS:
        module, _, class_name = spec.factory.partition(":")
        cls = getattr(importlib.import_module(module), class_name)
        assert cls.name() == spec.name
        assert (spec.deletion == DELETE_BY_COMMAND) == issubclass(cls, MessagingChannel), spec.name
