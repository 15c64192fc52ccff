"""In-process publish/subscribe for the staff console's live view (SSE)."""
from __future__ import annotations

import asyncio
from typing import Any, Dict, Set

CLOSED = None  # what a subscriber receives when its stream must end


class EventHub:
    def __init__(self, max_backlog: int = 200) -> None:
        self._subscribers: Set[asyncio.Queue] = set()
        self._max_backlog = max_backlog

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
        for queue in list(self._subscribers):
            if queue.full():  # a stalled console reloads the queue instead of growing memory
                queue.get_nowait()
            queue.put_nowait(event)

