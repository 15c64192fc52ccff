"""Publish/subscribe for the staff console's live view (SSE), across every process of the service.

`publish` goes through the bus (bot/pubsub.py): in one process straight to the local
subscribers, with Redis to every replica's. After a Redis outage every open console is told
the queue changed, so it reloads what it may have missed.
"""
from __future__ import annotations

import asyncio
from typing import Any, Dict, Optional, Set

from bot.pubsub import Bus, LocalBus

CLOSED = None  # what a subscriber receives when its stream must end
TOPIC = "staff"


class EventHub:
    def __init__(self, bus: Optional[Bus] = None, max_backlog: int = 200) -> None:
        self.bus = bus or LocalBus()
        self._subscribers: Set[asyncio.Queue] = set()
        self._max_backlog = max_backlog
        self.bus.subscribe(TOPIC, self._fan_out)
        self.bus.on_reconnect(lambda: self._fan_out({"type": "queue_changed", "section": None}))

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=self._max_backlog)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self._subscribers.discard(queue)

    def close(self, queue: asyncio.Queue) -> None:
        """End one subscription now: pending events are dropped (they are no longer the
        subscriber's to see) and the reader gets CLOSED next."""
        self.unsubscribe(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(CLOSED)

    def publish(self, event: Dict[str, Any]) -> None:
        """To every console of every replica (never blocks)."""
        self.bus.publish(TOPIC, event)

    def _fan_out(self, event: Dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            if queue.full():  # a stalled console reloads the queue instead of growing memory
                queue.get_nowait()
            queue.put_nowait(event)
