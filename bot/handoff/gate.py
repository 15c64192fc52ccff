"""The one place where inbound messages meet the handoff state, for every channel.

Wraps `Agent.handle_message`: while a conversation is queued or assigned, Rasa is paused
(the message is still recorded) and the staff console is told; a resident can cancel
waiting; an awaited callback phone number is taken out of the text before Rasa stores it.

Every database call here runs in a worker thread (`asyncio.to_thread`): the gate sits in
front of every resident's message, so a blocking call would stall them all.
"""
from __future__ import annotations

import logging
from asyncio import to_thread
from typing import Any, Awaitable, Callable, Dict, Optional

from rasa.core.channels.channel import UserMessage

from bot.catalog.provider import CatalogProvider
from bot.delivery import Delivery
from bot.handoff import tracker as conversation
from bot.handoff.hub import EventHub
from bot.handoff.machine import (
    AWAITING_PHONE,
    AWAITING_PHONE_AGAIN,
    CALLBACK,
    PAUSED_STATES,
    QUEUED,
    HandoffService,
    QueueEntry,
    QueuePosition,
    recording_changes,
)
from bot.messages import BotMessage
from bot.ratelimit import RateLimits
from bot.redaction import find_phone_number, mask_phone_numbers
from bot.replies import Reply, ReplyBuilder, to_message

logger = logging.getLogger(__name__)

# The command (`keywords:` in intents/phrases.yml) that stops a wait for a person or a call-back.
CANCEL = "cancel"


class HandoffGate:
    """Built once with the server's services (bot/server.py): `agent` gives the running agent
    (replaced when a model is published), `rate_limits` and `delivery` are the server's own."""

    def __init__(self, service: HandoffService, hub: EventHub, catalogs: CatalogProvider,
                 agent: Callable[[], Any], rate_limits: Optional[RateLimits] = None,
                 delivery: Optional[Delivery] = None) -> None:
        self.service = service
        self.hub = hub
        self.catalogs = catalogs
        self.agent = agent
        self.rate_limits = rate_limits
        self.delivery = delivery

    def wrap(self, handle: Callable[[UserMessage], Awaitable[Any]]) -> Callable[[UserMessage], Awaitable[Any]]:
        async def handle_with_handoff(message: UserMessage) -> Any:
            return await self.handle(handle, message)

        return handle_with_handoff

    async def handle(self, handle: Callable[[UserMessage], Awaitable[Any]], message: UserMessage) -> Any:
        # One handoff read per turn: what the turn itself changes (the gate's call-back
        # steps, the action queueing the resident) is recorded, not read back.
        with recording_changes() as changes:
            return await self.handle_recorded(handle, message, changes)

    async def handle_recorded(self, handle: Callable[[UserMessage], Awaitable[Any]], message: UserMessage,
                              changes: Dict[str, str]) -> Any:
        cid = message.sender_id
        before = await to_thread(self.service.get, cid)
        state = before.state if before else "bot"
        if await self.over_rate_limit(message, before.language if before else "ja"):
            return None  # a flood: answered politely, never passed to Rasa
        metadata: Dict[str, Any] = message.metadata if isinstance(message.metadata, dict) else {}
        message.metadata = metadata
        agent = self.agent()

        if (before is not None and before.awaiting in (AWAITING_PHONE, AWAITING_PHONE_AGAIN)
                and state not in PAUSED_STATES):
            metadata["callback"] = await self.take_callback_phone(message, before)
        elif state == CALLBACK and await self.says(CANCEL, message.text):
            await to_thread(self.service.cancel_callback, cid)
            metadata["callback"] = "cancelled"

        cancelled = False
        if state == QUEUED and await self.says(CANCEL, message.text):
            await to_thread(self.service.cancel, cid)
            await conversation.resume(agent, cid)
            metadata["handoff"] = "cancelled"
            cancelled = True

        result = await handle(message)

        if cancelled:
            assert before is not None  # only a queued entry can be cancelled
            self.hub.publish({"type": "queue_changed", "conversation_id": cid})
            await self.notify_positions(before.section)
        elif state in PAUSED_STATES:
            assert before is not None  # without an entry the state is "bot"
            await to_thread(self.service.note_message, cid, message.text or "")
            self.hub.publish({"type": "message", "conversation_id": cid, "text": message.text})
            if state == QUEUED:
                await self.acknowledge_waiting(message, before.language)
        else:  # the bot may just have queued it (or taken a callback request): tell the consoles
            after = changes.get(cid)
            if after is not None and after != state:
                self.hub.publish({"type": "queue_changed", "conversation_id": cid, "state": after})
        return result

    async def over_rate_limit(self, message: UserMessage, language: str) -> bool:
        """Per-conversation limit (bot/ratelimit.py) for every channel: over it, a polite reply only."""
        limits = self.rate_limits
        if limits is None or await limits.conversations.hit(message.sender_id) is None:
            return False
        builder = await self.builder(language)
        await message.output_channel.send_response(message.sender_id,
                                                   dict(to_message(Reply([builder.phrase("rate_limited")]), language)))
        return True

    async def take_callback_phone(self, message: UserMessage, before: QueueEntry) -> str:
        """The answer to 「電話番号を入力してください」: registered, cancelled, invalid_phone
        (asked once more) or gave_up (a second unreadable answer ends the wait)."""
        cid = message.sender_id
        phone = find_phone_number(message.text or "")
        if phone:
            await to_thread(self.service.request_callback, cid, message.input_channel or before.channel,
                            before.section, before.language, phone, before.summary)
            message.text = mask_phone_numbers(message.text)
            return "registered"
        if await self.says(CANCEL, message.text):
            await to_thread(self.service.clear_awaiting, cid)
            return "cancelled"
        if before.awaiting == AWAITING_PHONE:
            await to_thread(self.service.await_input, cid, before.channel, before.section, before.language,
                            AWAITING_PHONE_AGAIN)
            return "invalid_phone"
        await to_thread(self.service.clear_awaiting, cid)
        return "gave_up"

    async def says(self, command: str, text: Any) -> bool:
        """Whether the resident's text is one of the catalog's words for `command`."""
        return (await self.catalogs.current()).keywords.says(command, text)

    async def builder(self, language: str) -> ReplyBuilder:
        return ReplyBuilder(await self.catalogs.current(), language)

    async def position_message(self, position: Optional[QueuePosition], language: str) -> Optional[BotMessage]:
        """「現在N番目です」 with a cancel button."""
        if position is None:
            return None
        builder = await self.builder(language)
        reply = Reply([builder.phrase("queue_position", position=str(position.place), minutes=str(position.minutes))],
                      [builder.cancel_button()])
        return to_message(reply, language)

    async def acknowledge_waiting(self, message: UserMessage, language: str) -> None:
        position = await to_thread(self.service.position, message.sender_id)
        reply = await self.position_message(position, language)
        if reply is not None:
            await message.output_channel.send_response(message.sender_id, dict(reply))

    async def notify_positions(self, section: Optional[str] = None) -> None:
        """Tell every waiting resident their new place in the queue, on their own channel."""
        delivery = self.delivery
        if delivery is None:
            return
        waiting = await to_thread(self.service.positions, section)
        for entry, position in waiting:
            if not delivery.supports(entry.channel):
                continue
            reply = await self.position_message(position, entry.language)
            if reply is not None:
                await delivery.deliver(entry.channel, entry.conversation_id, reply)
