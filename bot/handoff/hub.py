"""In-process publish/subscribe for the staff console's live view (SSE)."""
from __future__ import annotations

import asyncio
from typing import Any, Dict, Set


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

    def publish(self, event: Dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            if queue.full():  # a stalled console reloads the queue instead of growing memory
                queue.get_nowait()
            queue.put_nowait(event)
