"""Live streams of the web page: one Server-Sent Events stream per open tab (bot/sse.py).

A conversation open in more than MAX_PAGES_PER_CONVERSATION tabs refuses the newest tab
(429) and never closes a tab the resident is reading; the process-wide cap on streams is
bot/sse.py's (MADOGUCHI_MAX_SSE_STREAMS, 503).

With several replicas the tabs of one conversation may be held by different processes: once
`attach`ed to the bus (bot/pubsub.py), what one process does to its tabs (sync after a message,
a transient message, a reset after deletion) is published, and the other processes do the
same to the tabs they hold. Staff replies reach the tabs through bot/delivery.py.
"""
from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional

from sanic import response
from sanic.response import HTTPResponse

from bot import sse
from channels.web.transcript import transcript

MAX_PAGES_PER_CONVERSATION = 8
TOPIC = "web_pages"
EventReader = Callable[[str], Awaitable[List[Any]]]


@dataclass(eq=False)
class PageStream:
    """One open tab of one conversation: its SSE queue and what it has already seen."""

    sender: str
    page: str
    cursor: float
    queue: "asyncio.Queue[Optional[str]]" = field(default_factory=asyncio.Queue)

    def send(self, messages: List[Dict[str, Any]], transient: Iterable[Dict[str, Any]] = ()) -> None:
        transient = list(transient)
        if not messages and not transient:
            return
        if messages:
            self.cursor = max(self.cursor, max(m["ts"] for m in messages))
        # The id lets the browser's automatic reconnect resume after the last message it got.
        self.queue.put_nowait(sse.event("messages", {"messages": messages, "transient": transient,
                                                     "cursor": self.cursor},
                                        repr(self.cursor) if messages else None))

    def end(self) -> None:
        """Close the stream (its relay ends when it reaches this)."""
        self.queue.put_nowait(None)


class PageStreams:
    """The open tabs of every web conversation in this process, oldest first."""

    def __init__(self, per_conversation: int = MAX_PAGES_PER_CONVERSATION) -> None:
        self.per_conversation = per_conversation
        self._pages: Dict[str, List[PageStream]] = {}
        self._bus: Any = None
        self._read_events: Optional[EventReader] = None
        self._origin = uuid.uuid4().hex  # this process's publishes come back too: it has done its part

    def attach(self, bus: Any, read_events: EventReader) -> None:
        """Share tab updates with the other replicas on `bus` (bot/pubsub.Bus); `read_events(sender)`
        reads a conversation's stored events (for tabs that must catch up)."""
        self._read_events = read_events
        if bus.distributed:
            self._bus = bus
            bus.subscribe(TOPIC, self._from_other_replica)

    def _publish(self, op: str, sender: str, **values: Any) -> None:
        if self._bus is not None:
            self._bus.publish(TOPIC, dict(values, op=op, sender=sender, origin=self._origin))

    async def _from_other_replica(self, event: Dict[str, Any]) -> None:
        sender = str(event.get("sender") or "")
        if event.get("origin") == self._origin or not self.of(sender):
            return  # nothing to do here: it was this process, or it holds no tab of the conversation
        except_page = str(event.get("except_page") or "")
        if event.get("op") == "sync" and self._read_events is not None:
            self._sync_here(sender, await self._read_events(sender), except_page)
        elif event.get("op") == "transient" and isinstance(event.get("message"), dict):
            self._transient_here(sender, event["message"])
        elif event.get("op") == "reset":
            self._reset_here(sender, except_page)

    def of(self, sender: str) -> List[PageStream]:
        return list(self._pages.get(sender, ()))

    def full(self, sender: str) -> bool:
        return len(self._pages.get(sender, ())) >= self.per_conversation

    def open(self, stream: PageStream) -> bool:
        """Register a tab's stream; False when the conversation has too many open already.

        The newest is refused rather than the oldest closed: the oldest may be the tab the
        resident is reading, and a stranger's tab must never push theirs out.
        """
        if self.full(stream.sender):
            return False
        self._pages.setdefault(stream.sender, []).append(stream)
        return True

    def close(self, stream: PageStream) -> None:
        pages = self._pages.get(stream.sender)
        if pages is not None and stream in pages:
            pages.remove(stream)
            if not pages:
                self._pages.pop(stream.sender, None)

    def close_all(self) -> None:
        """The server is stopping: open streams would otherwise hold the shutdown for its grace period."""
        for pages in list(self._pages.values()):
            for page in list(pages):
                page.end()

    def advance(self, sender: str, page_id: str, cursor: float) -> None:
        """The tab `page_id` got everything up to `cursor` in a response."""
        for page in self.of(sender):
            if page.page == page_id:
                page.cursor = max(page.cursor, cursor)

    def sync(self, sender: str, events: List[Any], except_page: str = "") -> None:
        """Every other tab of the conversation gets what it has not seen yet."""
        self._sync_here(sender, events, except_page)
        self._publish("sync", sender, except_page=except_page)

    def _sync_here(self, sender: str, events: List[Any], except_page: str) -> None:
        for page in self.of(sender):
            if page.page != except_page:
                page.send(transcript(events, page.cursor))

    def send_transient(self, sender: str, message: Dict[str, Any]) -> bool:
        """A message that is not (yet) in the tracker, to every tab; False when none is open here."""
        self._publish("transient", sender, message=message)
        return self._transient_here(sender, message)

    def _transient_here(self, sender: str, message: Dict[str, Any]) -> bool:
        pages = self.of(sender)
        for page in pages:
            page.send([], [message])
        return bool(pages)

    def reset(self, sender: str, except_page: str = "") -> None:
        """The conversation was deleted: its other open tabs clear their screens; every
        stream of it closes (the browser reconnects to its new conversation)."""
        self._reset_here(sender, except_page)
        self._publish("reset", sender, except_page=except_page)

    def _reset_here(self, sender: str, except_page: str) -> None:
        for page in self.of(sender):
            if page.page != except_page:
                page.queue.put_nowait(sse.event("reset", {}))
            page.end()


def too_many_pages(message: str) -> HTTPResponse:
    """429: the conversation is open in MAX_PAGES_PER_CONVERSATION tabs already (`message`: the
    catalog's `notice_too_many_pages`)."""
    return response.json(
        {"error": "too_many_pages", "message": message},
        status=429, headers={"Retry-After": str(sse.RETRY_AFTER_SECONDS), "Cache-Control": "no-store"})
