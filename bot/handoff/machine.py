"""The handoff state machine, persisted with SQLAlchemy.

    bot ──request──► queued ──claim──► assigned ──handback──► bot
     │                 │  ▲               │  └──close──► closed
     │                 │  └──transfer─────┘
     │                 └──cancel (resident)──► bot
     ├──pull (staff)──────────────► assigned
     └──callback (after hours)──► callback_requested ──callback done / expired──► closed
                                         └──cancel (resident)──► bot, or a new request ──► queued

`closed` behaves like `bot` for a new request. Every change is one conditional UPDATE,
so two clerks claiming at once cannot both win. A call-back phone number lives only while
its conversation is `callback_requested` (and never longer than the call-back TTL): every
transition out of that state deletes it in the same transaction.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
from contextvars import ContextVar
from dataclasses import dataclass
from enum import Enum
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Tuple

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.clock import real_utcnow
from bot.store import Database
from bot.store.models import CallbackRequest, Handoff


class HandoffState(str, Enum):
    """Where a conversation is; a `str` so the database and JSON keep the plain names."""

    BOT = "bot"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    CLOSED = "closed"
    CALLBACK = "callback_requested"

    def __str__(self) -> str:
        return self.value


BOT, QUEUED, ASSIGNED, CLOSED, CALLBACK = (HandoffState.BOT, HandoffState.QUEUED, HandoffState.ASSIGNED,
                                           HandoffState.CLOSED, HandoffState.CALLBACK)
PAUSED_STATES = (QUEUED, ASSIGNED)
# What the bot waits for: a call-back phone number; after one unreadable answer it asks once more.
AWAITING_PHONE, AWAITING_PHONE_AGAIN = "callback_phone", "callback_phone_again"
REASONS = ("request", "fallback", "sensitive", "staff_pull", "callback")
DEFAULT_HANDLING_MINUTES = 6.0  # expected minutes per waiting resident before history exists


class HandoffError(Exception):
    status = 400


class InvalidTransition(HandoffError):
    """The conversation is not in a state that allows this (e.g. already claimed): HTTP 409."""

    status = 409


class NotFound(HandoffError):
    status = 404


@dataclass(frozen=True)
class QueueEntry:
    conversation_id: str
    channel: str
    state: str
    section: str
    language: str
    reason: str
    summary: Dict[str, Any]
    queued_at: Optional[dt.datetime]
    assigned_to: Optional[int]
    waiting_seconds: int
    awaiting: Optional[str] = None

    @classmethod
    def of(cls, row: Handoff, now: dt.datetime) -> "QueueEntry":
        waiting = int((now - row.queued_at).total_seconds()) if row.queued_at else 0
        return cls(row.conversation_id, row.channel, row.state, row.section, row.language, row.reason,
                   json.loads(row.summary or "{}"), row.queued_at, row.assigned_to, max(0, waiting), row.awaiting)


class QueuePosition(NamedTuple):
    """A queued resident's place (1 = next) and the expected wait in minutes."""

    place: int
    minutes: int

    @classmethod
    def at(cls, place: int) -> "QueuePosition":
        return cls(place, round(place * DEFAULT_HANDLING_MINUTES))


DEFAULT_CALLBACK_TTL = dt.timedelta(days=7)

# The states transitions reached during one resident's turn, by conversation id. The gate
# opens a record around the turn; the action's transitions run in worker threads, which
# copy the turn's context (asyncio.to_thread), so they fill the same dict. The gate then
# knows whether the turn changed the handoff without reading it a second time.
_turn_changes: ContextVar[Optional[Dict[str, str]]] = ContextVar("handoff_turn_changes", default=None)


@contextlib.contextmanager
def recording_changes() -> Iterator[Dict[str, str]]:
    """{conversation id: state reached} for the transitions made inside the block (this task)."""
    changes: Dict[str, str] = {}
    token = _turn_changes.set(changes)
    try:
        yield changes
    finally:
        _turn_changes.reset(token)


def _record_change(conversation_id: str, state: str) -> None:
    changes = _turn_changes.get()
    if changes is not None:
        changes[conversation_id] = str(state)


def _forget_callbacks(session: Session, conversation_id: str) -> None:
    """Phone numbers exist only while the conversation waits for its call-back."""
    session.execute(delete(CallbackRequest).where(CallbackRequest.conversation_id == conversation_id)
                    .execution_options(synchronize_session=False))


class HandoffService:
    def __init__(self, db: Database, callback_ttl: dt.timedelta = DEFAULT_CALLBACK_TTL) -> None:
        self.db = db
        self.callback_ttl = callback_ttl

    # --- reading -----------------------------------------------------------------------
    def get(self, conversation_id: str) -> Optional[QueueEntry]:
        with self.db.session() as session:
            row = session.get(Handoff, conversation_id)
            return QueueEntry.of(row, real_utcnow()) if row else None

    def state(self, conversation_id: str) -> str:
        entry = self.get(conversation_id)
        return entry.state if entry else BOT

    def queue(self, section: Optional[str] = None) -> List[QueueEntry]:
        """Queued and assigned conversations and call-backs, oldest first (optionally one section)."""
        self.purge_expired_callbacks()
        with self.db.session() as session:
            query = select(Handoff).where(Handoff.state.in_(PAUSED_STATES + (CALLBACK,)))
            if section:
                query = query.where(Handoff.section == section)
            rows = session.scalars(query.order_by(Handoff.queued_at, Handoff.conversation_id)).all()
            now = real_utcnow()
            return [QueueEntry.of(row, now) for row in rows]

    def position(self, conversation_id: str) -> Optional[QueuePosition]:
        """The place among queued residents of the same section, None when not queued."""
        with self.db.session() as session:
            row = session.get(Handoff, conversation_id)
            if row is None or row.state != QUEUED:
                return None
            ahead = session.scalar(select(func.count()).select_from(Handoff).where(
                Handoff.state == QUEUED, Handoff.section == row.section, Handoff.queued_at < row.queued_at))
            place = int(ahead or 0) + 1
            return QueuePosition.at(place)

    def positions(self, section: Optional[str] = None) -> List[Tuple[QueueEntry, QueuePosition]]:
        """(entry, position) for every queued resident: one read for a queue refresh."""
        with self.db.session() as session:
            query = select(Handoff).where(Handoff.state == QUEUED)
            if section:
                query = query.where(Handoff.section == section)
            rows = session.scalars(query.order_by(Handoff.section, Handoff.queued_at, Handoff.conversation_id)).all()
        now = real_utcnow()
        places: Dict[str, int] = {}
        result: List[Tuple[QueueEntry, QueuePosition]] = []
        for row in rows:
            place = places[row.section] = places.get(row.section, 0) + 1
            result.append((QueueEntry.of(row, now), QueuePosition.at(place)))
        return result

    # --- transitions ---------------------------------------------------------------------
    def request(self, conversation_id: str, channel: str, section: str, language: str, reason: str,
                summary: Dict[str, Any]) -> QueueEntry:
        """Put the conversation in the queue (idempotent while already queued or assigned)."""
        if reason not in REASONS:
            raise HandoffError(f"unknown reason {reason!r}")
        now = real_utcnow()
        with self.db.session() as session:
            row = session.get(Handoff, conversation_id, with_for_update=True)
            if row is not None and row.state in PAUSED_STATES:
                return QueueEntry.of(row, now)
            if row is None:
                row = Handoff(conversation_id=conversation_id)
                session.add(row)
            row.channel, row.section, row.language, row.reason = channel, section, language, reason
            row.state, row.summary, row.queued_at = QUEUED, json.dumps(summary, ensure_ascii=False), now
            row.assigned_to = row.assigned_at = row.ended_at = row.close_note = None
            row.updated_at = now
            _forget_callbacks(session, conversation_id)
            session.flush()
            _record_change(conversation_id, QUEUED)
            return QueueEntry.of(row, now)

    def _transition(self, conversation_id: str, allowed: tuple, values: Dict[str, Any],
                    extra_where=None) -> QueueEntry:
        values = dict(values, updated_at=real_utcnow())
        with self.db.session() as session:
            query = update(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.state.in_(allowed))
            if extra_where is not None:
                query = query.where(extra_where)
            result = session.execute(query.values(**values).execution_options(synchronize_session=False))
            if result.rowcount != 1:
                row = session.get(Handoff, conversation_id)
                if row is None:
                    raise NotFound(f"no handoff for conversation {conversation_id}")
                raise InvalidTransition(f"conversation is {row.state}; needs {' or '.join(allowed)}")
            if values.get("state", CALLBACK) != CALLBACK:
                _forget_callbacks(session, conversation_id)
            row = session.get(Handoff, conversation_id)
            session.refresh(row)
            _record_change(conversation_id, row.state)
            return QueueEntry.of(row, real_utcnow())

    def claim(self, conversation_id: str, account_id: int) -> QueueEntry:
        return self._transition(conversation_id, (QUEUED,),
                                {"state": ASSIGNED, "assigned_to": account_id, "assigned_at": real_utcnow()})

    def pull(self, conversation_id: str, channel: str, account_id: int, section: str, language: str,
             summary: Dict[str, Any]) -> QueueEntry:
        """A clerk takes over a conversation the bot is handling (e.g. seen in the transcript list)."""
        now = real_utcnow()
        with self.db.session() as session:
            row = session.get(Handoff, conversation_id, with_for_update=True)
            if row is not None and row.state in PAUSED_STATES + (CALLBACK,):
                raise InvalidTransition(f"conversation is {row.state}")
            if row is None:
                row = Handoff(conversation_id=conversation_id)
                session.add(row)
            row.channel, row.section, row.language, row.reason = channel, section, language, "staff_pull"
            row.state, row.summary, row.queued_at = ASSIGNED, json.dumps(summary, ensure_ascii=False), now
            row.assigned_to, row.assigned_at, row.updated_at = account_id, now, now
            row.ended_at = row.close_note = None
            _forget_callbacks(session, conversation_id)
            session.flush()
            _record_change(conversation_id, ASSIGNED)
            return QueueEntry.of(row, now)

    def _owned_by(self, account_id: Optional[int]):
        return None if account_id is None else (Handoff.assigned_to == account_id)

    def handback(self, conversation_id: str, account_id: Optional[int] = None) -> QueueEntry:
        """Back to the bot; `account_id` None means any clerk (an admin)."""
        return self._transition(conversation_id, (ASSIGNED,), {"state": BOT, "ended_at": real_utcnow()},
                                self._owned_by(account_id))

    def close(self, conversation_id: str, note: str, account_id: Optional[int] = None) -> QueueEntry:
        return self._transition(conversation_id, (ASSIGNED,), {"state": CLOSED, "ended_at": real_utcnow(),
                                                               "close_note": note}, self._owned_by(account_id))

    def transfer(self, conversation_id: str, section: str, account_id: Optional[int] = None) -> QueueEntry:
        """To another section's queue, keeping the original waiting time."""
        return self._transition(conversation_id, (ASSIGNED, QUEUED),
                                {"state": QUEUED, "section": section, "assigned_to": None, "assigned_at": None},
                                None if account_id is None
                                else ((Handoff.assigned_to == account_id) | (Handoff.state == QUEUED)))

    def cancel(self, conversation_id: str) -> QueueEntry:
        """The resident no longer wants to wait."""
        return self._transition(conversation_id, (QUEUED,), {"state": BOT, "ended_at": real_utcnow()})

    def note_message(self, conversation_id: str, text: str, keep: int = 5) -> None:
        """Keep the summary's last messages current while the resident waits or talks to staff."""
        with self.db.session() as session:
            row = session.get(Handoff, conversation_id, with_for_update=True)
            if row is None:
                return
            summary = json.loads(row.summary or "{}")
            summary["last_messages"] = (summary.get("last_messages") or [])[-(keep - 1):] + [text]
            row.summary = json.dumps(summary, ensure_ascii=False)

    def await_input(self, conversation_id: str, channel: str, section: str, language: str,
                    awaiting: Optional[str], summary: Optional[Dict[str, Any]] = None) -> None:
        """Remember that the next message answers a question (e.g. the callback phone number),
        with what a clerk will need to know about the conversation then."""
        with self.db.session() as session:
            row = session.get(Handoff, conversation_id, with_for_update=True)
            if row is None:
                row = Handoff(conversation_id=conversation_id, state=BOT, reason="callback")
                session.add(row)
            if row.state not in PAUSED_STATES:
                row.channel, row.section, row.language = channel, section, language
                if summary is not None:
                    row.summary = json.dumps(summary, ensure_ascii=False)
            row.awaiting, row.updated_at = awaiting, real_utcnow()

    def clear_awaiting(self, conversation_id: str) -> None:
        """The bot no longer waits for an answer (cancelled, or the resident moved on)."""
        with self.db.session() as session:
            session.execute(update(Handoff).where(Handoff.conversation_id == conversation_id)
                            .values(awaiting=None, updated_at=real_utcnow())
                            .execution_options(synchronize_session=False))

    def request_callback(self, conversation_id: str, channel: str, section: str, language: str, phone: str,
                         summary: Dict[str, Any]) -> int:
        now = real_utcnow()
        with self.db.session() as session:
            row = session.get(Handoff, conversation_id, with_for_update=True)
            if row is None:
                row = Handoff(conversation_id=conversation_id)
                session.add(row)
            row.channel, row.section, row.language, row.reason = channel, section, language, "callback"
            row.state, row.summary = CALLBACK, json.dumps(summary, ensure_ascii=False)
            row.queued_at = row.updated_at = now
            row.awaiting = None
            row.assigned_to = row.assigned_at = row.ended_at = row.close_note = None
            _forget_callbacks(session, conversation_id)  # a new number replaces the old one
            callback = CallbackRequest(conversation_id=conversation_id, phone=phone, consent_at=now, section=section)
            session.add(callback)
            session.flush()
            _record_change(conversation_id, CALLBACK)
            return callback.id

    def callback(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        """The pending call-back ({"phone", "section", "consent_at"}), None when there is none
        or it has expired (expired ones are purged first)."""
        self.purge_expired_callbacks()
        with self.db.session() as session:
            row = session.scalar(select(CallbackRequest).where(CallbackRequest.conversation_id == conversation_id)
                                 .order_by(CallbackRequest.id.desc()))
            if row is None:
                return None
            return {"phone": row.phone, "section": row.section, "consent_at": row.consent_at}

    def callback_phone(self, conversation_id: str) -> Optional[str]:
        found = self.callback(conversation_id)
        return found["phone"] if found else None

    def complete_callback(self, conversation_id: str, note: str) -> QueueEntry:
        """The clerk has called back: the phone number is deleted, the conversation closed."""
        return self._transition(conversation_id, (CALLBACK,), {"state": CLOSED, "ended_at": real_utcnow(),
                                                                "close_note": note})

    def cancel_callback(self, conversation_id: str) -> QueueEntry:
        """The resident no longer wants the call: back to the bot, the number deleted."""
        return self._transition(conversation_id, (CALLBACK,), {"state": BOT, "ended_at": real_utcnow()})

    def purge_expired_callbacks(self) -> List[str]:
        """Delete phone numbers older than the TTL and close their call-backs (nobody can call
        without the number). Returns the conversation ids closed."""
        cutoff = real_utcnow() - self.callback_ttl
        with self.db.session() as session:
            expired = sorted(set(session.scalars(select(CallbackRequest.conversation_id)
                                                 .where(CallbackRequest.consent_at < cutoff))))
            if not expired:
                return []
            session.execute(delete(CallbackRequest).where(CallbackRequest.conversation_id.in_(expired))
                            .execution_options(synchronize_session=False))
            session.execute(update(Handoff).where(Handoff.conversation_id.in_(expired), Handoff.state == CALLBACK)
                            .values(state=CLOSED, ended_at=real_utcnow(), updated_at=real_utcnow(),
                                    close_note="call-back expired: phone number deleted")
                            .execution_options(synchronize_session=False))
            return expired
