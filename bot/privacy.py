"""Residents' own data: deleting one conversation on request, and every conversation past
the retention period (APPI; the spirit of the My Number Act's Art. 12).

One function deletes, whoever asks (`delete_conversation`: the web page's 「この会話を消す」,
Telegram `/delete`, LINE 「会話を消す」, the daily purge in `serve`, `madoguchi purge`):
  - Rasa's tracker events (the `events` table, rows with that sender_id),
  - our rows: the handoff (so a waiting conversation leaves the staff queue), call-back
    requests (phone numbers), visit slips, satisfaction answers,
  - and adds one audit row (`conversation.deleted`, actor `resident` or `retention`, the
    channel and counts — never what was said) and one to the anonymous daily counts
    (`conversation_stats`: day of the first message, channel, conversations, handoffs) so
    analytics survive the deletion.
The database work runs in a worker thread; in the server it runs under the conversation's
lock, so a turn in flight cannot write the deleted events back.
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import re
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any, Dict, List, Optional
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import delete, func, select

from bot import clock, senders
from bot.catalog import Catalog
from bot.handoff.machine import HandoffState
from bot.messages import BotMessage
from bot.replies import Button, Reply, ReplyBuilder, to_message
from bot.services import Services
from bot.store import Database
from bot.store.models import AuditEntry, CallbackRequest, ConversationStats, Handoff, SatisfactionAnswer, VisitSlip
from bot.text import LANGUAGES

logger = logging.getLogger(__name__)

ACTION_DELETED = "conversation.deleted"
ACTOR_RESIDENT = "resident"
ACTOR_RETENTION = "retention"
WAITING_STATES = (HandoffState.QUEUED, HandoffState.ASSIGNED, HandoffState.CALLBACK)
EVENTS_TABLE = "events"  # Rasa's SQLTrackerStore
# Button payloads of the confirmation on the messaging channels; the channel handles them
# itself, Rasa never sees them.
CONFIRM_PAYLOAD = "/delete_conversation_confirm"
CANCEL_PAYLOAD = "/delete_conversation_cancel"
# The command (`keywords:` in intents/phrases.yml) a resident types to ask for deletion on a
# messaging channel.
DELETE = "delete"
FIRST_PURGE_DELAY_SECONDS = 10.0
PURGE_INTERVAL_SECONDS = 24 * 3600.0
AGE = re.compile(r"^\s*(\d+)\s*([dhw]?)\s*$", re.I)


@dataclass(frozen=True)
class Deletion:
    """What one deletion removed (counts only)."""

    conversation_id: str
    channel: str
    messages: int = 0          # resident and bot messages
    events: int = 0            # every tracker event
    handoff: bool = False      # a handoff row (queue, call-back, past handoff) existed
    callbacks: int = 0
    visit_slips: int = 0
    satisfaction: int = 0
    waiting_section: Optional[str] = None  # the queue it was waiting in, if any

    @property
    def anything(self) -> bool:
        return bool(self.events or self.handoff or self.callbacks or self.visit_slips or self.satisfaction)

    def summary(self) -> Dict[str, Any]:
        data = asdict(self)
        data.pop("conversation_id")
        return data


def channel_of(conversation_id: str) -> str:
    """The channel that owns a conversation id (its namespace in bot/senders.py), or `other`."""
    return senders.owner_of(conversation_id) or "other"


def is_delete_request(catalog: Catalog, text: Any) -> bool:
    return catalog.keywords.says(DELETE, text)


def parse_age(value: str) -> dt.timedelta:
    """`90d`, `12h`, `2w` or a bare number of days → a timedelta (ValueError otherwise)."""
    match = AGE.match(value or "")
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"not an age: {value!r} (write e.g. 90d, 12h or 2w)")
    amount, unit = int(match.group(1)), (match.group(2) or "d").lower()
    return {"d": dt.timedelta(days=amount), "h": dt.timedelta(hours=amount), "w": dt.timedelta(weeks=amount)}[unit]


# --- the database work (worker thread) -----------------------------------------------------
def _events_table(connection: Any) -> Optional[sa.Table]:
    """Rasa's events table, or None before Rasa has created it."""
    if not sa.inspect(connection).has_table(EVENTS_TABLE):
        return None
    return sa.Table(EVENTS_TABLE, sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("sender_id", sa.String(255)), sa.Column("type_name", sa.String(255)),
                    sa.Column("timestamp", sa.Float))


def delete_rows(db: Database, conversation_id: str, channel: Optional[str] = None,
                actor: str = ACTOR_RESIDENT, timezone: str = "Asia/Tokyo") -> Deletion:
    """Delete one conversation everywhere, in one transaction (blocking: call in a worker thread)."""
    channel = channel or channel_of(conversation_id)
    with db.session() as session:
        events = _events_table(session.connection())
        event_count = message_count = 0
        first_at: Optional[float] = None
        if events is not None:
            where = events.c.sender_id == conversation_id
            event_count, first_at = session.execute(
                select(func.count(), func.min(events.c.timestamp)).where(where)).one()
            message_count = session.scalar(select(func.count()).where(
                where, events.c.type_name.in_(("user", "bot"))))
            session.execute(delete(events).where(where))
        handoff = session.get(Handoff, conversation_id)
        waiting = handoff.section if handoff is not None and handoff.state in WAITING_STATES else None
        reached_person = handoff is not None and handoff.queued_at is not None
        if first_at is None and handoff is not None:
            first_at = (handoff.queued_at or handoff.updated_at).replace(tzinfo=dt.timezone.utc).timestamp()
        counts = {}
        for name, model in (("callbacks", CallbackRequest), ("visit_slips", VisitSlip),
                            ("satisfaction", SatisfactionAnswer), ("handoffs", Handoff)):
            counts[name] = session.execute(delete(model).where(model.conversation_id == conversation_id)
                                           .execution_options(synchronize_session=False)).rowcount or 0
        deletion = Deletion(conversation_id, channel, int(message_count or 0), int(event_count or 0),
                            counts["handoffs"] > 0, counts["callbacks"], counts["visit_slips"],
                            counts["satisfaction"], waiting)
        if first_at is not None:
            day = dt.datetime.fromtimestamp(first_at, ZoneInfo(timezone)).date()
            _count(session, day, channel, reached_person)
        if deletion.anything:  # a request for a conversation that never existed deletes nothing
            session.add(AuditEntry(actor=actor, action=ACTION_DELETED, conversation_id=conversation_id,
                                   detail=json.dumps(deletion.summary(), ensure_ascii=False)))
    return deletion


def _count(session: Any, day: dt.date, channel: str, reached_person: bool) -> None:
    row = session.scalar(select(ConversationStats).where(ConversationStats.day == day,
                                                         ConversationStats.channel == channel))
    if row is None:
        row = ConversationStats(day=day, channel=channel, conversations=0, handoffs=0)
        session.add(row)
    row.conversations += 1
    row.handoffs += 1 if reached_person else 0


def expired_conversations(db: Database, cutoff: dt.datetime) -> List[str]:
    """Conversations whose last event (or, without events, last handoff change) is before `cutoff`."""
    cutoff_epoch = cutoff.timestamp()
    naive_cutoff = cutoff.astimezone(dt.timezone.utc).replace(tzinfo=None)
    with db.session() as session:
        events = _events_table(session.connection())
        expired: List[str] = []
        recent: set = set()
        if events is not None:
            rows = session.execute(select(events.c.sender_id, func.max(events.c.timestamp))
                                   .group_by(events.c.sender_id)).all()
            for sender_id, last in rows:
                (expired.append if last is not None and last < cutoff_epoch else recent.add)(sender_id)
        known = set(expired) | recent
        stale = select(Handoff.conversation_id).where(Handoff.updated_at < naive_cutoff)
        for conversation_id in session.scalars(stale):
            if conversation_id not in known:
                expired.append(conversation_id)
        return expired


def purge(db: Database, older_than: dt.timedelta, now: Optional[dt.datetime] = None,
          timezone: str = "Asia/Tokyo") -> List[Deletion]:
    """Delete every expired conversation (blocking; `madoguchi purge`)."""
    cutoff = (now or clock.now()) - older_than
    return [delete_rows(db, cid, actor=ACTOR_RETENTION, timezone=timezone)
            for cid in expired_conversations(db, cutoff)]


def stats(db: Database) -> List[Dict[str, Any]]:
    with db.session() as session:
        return [{"day": row.day.isoformat(), "channel": row.channel, "conversations": row.conversations,
                 "handoffs": row.handoffs}
                for row in session.scalars(select(ConversationStats).order_by(ConversationStats.day,
                                                                              ConversationStats.channel))]


# --- in the server -------------------------------------------------------------------------
async def delete_conversation(services: Services, conversation_id: str, channel: Optional[str] = None,
                              actor: str = ACTOR_RESIDENT) -> Deletion:
    """Delete one conversation (see the module docstring); the staff consoles are told when it
    leaves the queue, and the residents behind it get their new place."""
    agent = services.agent.current()
    lock_store = getattr(agent, "lock_store", None)
    lock = lock_store.lock(conversation_id) if lock_store is not None else contextlib.nullcontext()
    loop = asyncio.get_running_loop()
    async with _async(lock):
        deletion = await loop.run_in_executor(None, partial(delete_rows, services.database, conversation_id,
                                                            channel, actor, services.settings.timezone))
    if deletion.waiting_section is not None:
        services.hub.publish({"type": "queue_changed", "conversation_id": conversation_id, "state": "deleted",
                              "section": deletion.waiting_section})
        try:
            await services.gate.notify_positions(deletion.waiting_section)
        except Exception:  # telling the others their place is a courtesy; the deletion is done
            logger.exception("privacy: could not update queue positions after a deletion")
    logger.info("conversation deleted by %s on %s (%d events)", actor, deletion.channel, deletion.events)
    return deletion


@contextlib.asynccontextmanager
async def _async(manager: Any):
    """Rasa's lock is an async context manager; `nullcontext` is a sync one."""
    if hasattr(manager, "__aenter__"):
        async with manager:
            yield
    else:
        with manager:
            yield


async def conversation_language(services: Services, conversation_id: str) -> str:
    """The language the resident chose (the tracker's `language` slot), `ja` by default."""
    agent = services.agent.current()
    store = getattr(agent, "tracker_store", None)
    if store is None:
        return "ja"
    try:
        tracker = await store.retrieve(conversation_id)
    except Exception:
        logger.exception("privacy: could not read the conversation's language")
        return "ja"
    language = tracker.get_slot("language") if tracker is not None else None
    return language if language in LANGUAGES else "ja"


async def purge_expired(services: Services, older_than: dt.timedelta) -> List[Deletion]:
    """The server's retention run: each expired conversation through `delete_conversation`."""
    loop = asyncio.get_running_loop()
    cutoff = clock.now() - older_than
    expired = await loop.run_in_executor(None, expired_conversations, services.database, cutoff)
    deletions = [await delete_conversation(services, cid, actor=ACTOR_RETENTION) for cid in expired]
    if deletions:
        logger.info("retention: deleted %d conversation(s) older than %s", len(deletions), older_than)
    return deletions


def install_retention(app: Any, services: Services, retention_days: int) -> None:
    """Purge once shortly after start and then daily, inside `serve` (0 days: never)."""
    if retention_days <= 0:
        return
    older_than = dt.timedelta(days=retention_days)
    tasks: List["asyncio.Future[None]"] = []

    async def run_daily() -> None:
        await asyncio.sleep(FIRST_PURGE_DELAY_SECONDS)
        while True:
            try:
                await purge_expired(services, older_than)
            except Exception:  # a failed run is retried the next day; the server keeps serving
                logger.exception("retention: the purge failed")
            await asyncio.sleep(PURGE_INTERVAL_SECONDS)

    async def start(_app: Any, _loop: Any) -> None:
        tasks.append(asyncio.ensure_future(run_daily()))

    async def stop(_app: Any, _loop: Any) -> None:
        while tasks:
            tasks.pop().cancel()

    app.register_listener(start, "before_server_start")
    app.register_listener(stop, "before_server_stop")


# --- what the resident is told ----------------------------------------------------------------
def deleted_text(builder: Any, deletion: Deletion) -> str:
    """「会話の記録を消しました（メッセージ12件、来庁票1枚）。…」 in the resident's language."""
    parts = []
    if deletion.messages:
        parts.append(builder.phrase("deleted_messages", count=str(deletion.messages)))
    if deletion.visit_slips:
        parts.append(builder.phrase("deleted_slips", count=str(deletion.visit_slips)))
    if deletion.callbacks:
        parts.append(builder.phrase("deleted_callbacks", count=str(deletion.callbacks)))
    if deletion.waiting_section:
        parts.append(builder.phrase("deleted_queue"))
    if not deletion.anything:
        return builder.phrase("nothing_deleted")
    if not parts:  # only rows without messages (e.g. a satisfaction answer): say what they are not
        parts.append(builder.phrase("deleted_messages", count="0"))
    separator = ", " if builder.language == "en" else "、"
    return builder.phrase("conversation_deleted", what=separator.join(parts))


def deleted_message(catalog: Catalog, deletion: Deletion, language: str) -> BotMessage:
    """The reply after a deletion, shaped like a bot message (text, lang, ruby)."""
    return to_message(Reply([deleted_text(ReplyBuilder(catalog, language), deletion)]), language)


def confirmation_message(catalog: Catalog, language: str) -> BotMessage:
    """The question before deleting, with 「消す」 and 「やめる」 buttons."""
    builder = ReplyBuilder(catalog, language)
    reply = Reply([builder.phrase("delete_confirm")],
                  [Button(builder.phrase("label_delete_confirm"), CONFIRM_PAYLOAD),
                   Button(builder.phrase("label_delete_cancel"), CANCEL_PAYLOAD)])
    return to_message(reply, language)


def cancelled_message(catalog: Catalog, language: str) -> BotMessage:
    return to_message(Reply([ReplyBuilder(catalog, language).phrase("delete_cancelled")]), language)


async def answer_delete_command(services: Services, conversation_id: str, channel: str,
                                text: str) -> Optional[BotMessage]:
    """For the messaging channels (Telegram `/delete`, LINE 「会話を消す」): the reply to a
    deletion request (a question with 「消す」/「やめる」 buttons), to its confirmation (the
    conversation is deleted; the reply says what went) or to its cancellation. None when
    the text is none of these, and the message goes on to Rasa as usual."""
    if text == CONFIRM_PAYLOAD:
        language = await conversation_language(services, conversation_id)
        deletion = await delete_conversation(services, conversation_id, channel)
        return deleted_message(await services.catalogs.current(), deletion, language)
    if text == CANCEL_PAYLOAD:
        language = await conversation_language(services, conversation_id)
        return cancelled_message(await services.catalogs.current(), language)
    catalog = await services.catalogs.current()
    if is_delete_request(catalog, text):
        language = await conversation_language(services, conversation_id)
        return confirmation_message(catalog, language)
    return None
