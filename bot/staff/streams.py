"""The staff console's open live streams, by session: logging out ends them at once, on every replica."""
from __future__ import annotations

import asyncio
from typing import Any, Dict, Set

from bot.handoff.hub import EventHub
from bot.staff.accounts import token_hash

LOGOUT_TOPIC = "staff_logout"


class StaffStreams:
    def __init__(self, hub: EventHub) -> None:
        self.hub = hub
        self._by_session: Dict[str, Set[asyncio.Queue]] = {}
        # The session's streams may be held by other replicas too: they hear of the logout on the bus.
        hub.bus.subscribe(LOGOUT_TOPIC, self._close_local)

    def open(self, session_token: str) -> asyncio.Queue:
        subscription = self.hub.subscribe()
        self._by_session.setdefault(token_hash(session_token), set()).add(subscription)
        return subscription

    def release(self, session_token: str, subscription: asyncio.Queue) -> None:
        self.hub.unsubscribe(subscription)
        key = token_hash(session_token)
        streams = self._by_session.get(key, set())
        streams.discard(subscription)
        if not streams:
            self._by_session.pop(key, None)

    def close_session(self, session_token: str) -> int:
        """End every stream of this session; returns how many were open in this process."""
        key = token_hash(session_token)
        closed = self._close(key)
        if self.hub.bus.distributed:
            self.hub.bus.publish(LOGOUT_TOPIC, {"session": key})  # a hash: the token never travels
        return closed

    def _close_local(self, event: Dict[str, Any]) -> None:
        self._close(str(event.get("session") or ""))

    def _close(self, key: str) -> int:
        streams = self._by_session.pop(key, set())
        for subscription in streams:
            self.hub.close(subscription)
        return len(streams)
