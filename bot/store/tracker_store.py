"""Rasa's SQL tracker store, with its database work moved off the event loop.

Rasa 3.6's `SQLTrackerStore` declares `async` methods but runs synchronous SQLAlchemy calls
inside them, so every read and write of a conversation stalls every other resident on the
same event loop (one slow SQLite write under load holds up all live streams and webhooks).
This subclass keeps Rasa's schema, queries and serialization and runs the same work in a
worker thread. It is configured by module path (`type:` of the tracker store endpoint).
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Callable, Iterable, List, Optional, Text, TypeVar

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy.exc import DBAPIError

logger = logging.getLogger(__name__)
Result = TypeVar("Result")


def once_more_if_disconnected(work: Callable[..., Result], *args: Any) -> Result:
    """Run `work`; if the database dropped the connection (restart, failover, pg_terminate_backend),
    SQLAlchemy has discarded the pool's connections, so run it once more on a fresh one. Without this,
    Rasa's fail-safe store keeps the turn in memory only (lost) or answers from an empty tracker.
    A save is safe to repeat: it writes only the events not stored yet."""
    try:
        return work(*args)
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        logger.warning("tracker store: database connection lost; retrying on a new connection")
        return work(*args)


class ThreadedSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` whose queries run in the default thread pool."""

    async def keys(self) -> Iterable[Text]:
        return await asyncio.to_thread(once_more_if_disconnected, self._keys_sync)

    def _keys_sync(self) -> List[Text]:
        with self.session_scope() as session:
            return [sender_id for (sender_id,) in session.query(self.SQLEvent.sender_id).distinct().all()]

    async def _retrieve(self, sender_id: Text, fetch_events_from_all_sessions: bool) -> Optional[DialogueStateTracker]:
        return await asyncio.to_thread(once_more_if_disconnected, self._retrieve_sync, sender_id,
                                       fetch_events_from_all_sessions)

    def _retrieve_sync(self, sender_id: Text, fetch_events_from_all_sessions: bool) -> Optional[DialogueStateTracker]:
        with self.session_scope() as session:
            rows = self._event_query(session, sender_id, fetch_events_from_all_sessions).all()
            events = [json.loads(row.data) for row in rows]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        # A copy: the thread must not read the deque while the loop appends to it.
        events = list(tracker.events)
        await asyncio.to_thread(once_more_if_disconnected, self._save_sync, tracker.sender_id, events)

    def _save_sync(self, sender_id: Text, events: list) -> None:
        with self.session_scope() as session:
            stored = self._count_stored_since_session_start(session, sender_id)
            for event in events[stored:]:
                data = event.as_dict()
                session.add(self.SQLEvent(
                    sender_id=sender_id,
                    type_name=event.type_name,
                    timestamp=data.get("timestamp"),
                    intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                    action_name=data.get("name"),
                    data=json.dumps(data),
                ))
            session.commit()

    def _count_stored_since_session_start(self, session, sender_id: Text) -> int:
        """As Rasa's `_additional_events`: the tracker holds the latest session's events,
        so the ones already stored are the first `count` of them."""
        return self._event_query(session, sender_id, fetch_events_from_all_sessions=False).count()
