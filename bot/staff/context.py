"""Everything the staff API needs, built once per server from its services (`staff_of(app)`).

The account, audit and handoff objects are synchronous (SQLAlchemy); the API awaits them
through `asyncio.to_thread`, never on the event loop."""
from __future__ import annotations

from typing import Any, Dict, Optional

from sqlalchemy import select

from bot.catalog.provider import CatalogProvider
from bot.handoff import tracker as conversation
from bot.handoff.gate import HandoffGate
from bot.handoff.hub import EventHub
from bot.handoff.machine import HandoffService, QueueEntry
from bot.messages import BotMessage
from bot.replies import Reply, ReplyBuilder, to_message
from bot.services import Services, services_of
from bot.staff.accounts import Accounts
from bot.staff.audit import AuditLog
from bot.staff.streams import StaffStreams
from bot.staff.throttle import LoginThrottle
from bot.store.models import StaffAccount


class StaffContext:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.handoffs: HandoffService = services.handoffs
        self.catalogs: CatalogProvider = services.catalogs
        self.hub: EventHub = services.hub
        self.gate: HandoffGate = services.gate
        self.accounts = Accounts(services.database)
        self.audit = AuditLog(services.database)
        self.throttle = LoginThrottle()
        self.streams = StaffStreams(services.hub)

    def names(self) -> Dict[int, str]:
        """Display names by account id (blocking: call through asyncio.to_thread)."""
        with self.handoffs.db.session() as session:
            return {a.id: a.display_name for a in session.scalars(select(StaffAccount))}

    async def builder(self, language: str) -> ReplyBuilder:
        return ReplyBuilder(await self.catalogs.current(), language)

    async def message(self, language: str, phrase: str, **values: str) -> BotMessage:
        builder = await self.builder(language)
        return to_message(Reply([builder.phrase(phrase, **values)]), language)

    async def deliver(self, entry: QueueEntry, text: str, staff_name: Optional[str] = None) -> bool:
        """Record a message in the transcript and push it on the resident's own channel."""
        message: BotMessage
        if staff_name is None:
            message = to_message(Reply([text]), entry.language)
        else:  # a clerk's own words: shown as typed, labelled as staff
            message = {"text": text, "lang": "en" if entry.language == "en" else "ja",
                       "variant": entry.language, "staff": {"name": staff_name}}
        await conversation.append_bot_message(self.services.agent.running(), entry.conversation_id, message)
        return await self.services.delivery.deliver(entry.channel, entry.conversation_id, message)

    async def queue_changed(self, section: Optional[str]) -> None:
        self.hub.publish({"type": "queue_changed", "section": section})
        await self.gate.notify_positions(section)


def staff_of(app: Any) -> StaffContext:
    """The staff console's context of the app a request came to (built in bot/server.py)."""
    return services_of(app).part(StaffContext)
