"""The staff console's open live streams, by session: logging out ends them at once."""
from __future__ import annotations

import asyncio
from typing import Dict, Set

from bot.handoff.hub import EventHub
from bot.staff.accounts import token_hash


class StaffStreams:
    def __init__(self, hub: EventHub) -> None:
        self.hub = hub
        self._by_session: Dict[str, Set[asyncio.Queue]] = {}

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
        """End every stream of this session; returns how many were open."""
        streams = self._by_session.pop(token_hash(session_token), set())
        for subscription in streams:
            self.hub.close(subscription)
        return len(streams)
