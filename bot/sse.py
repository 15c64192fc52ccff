"""Server-sent event streams: one way to open, feed and cap them, for every live view.

An open stream costs a socket and a task for as long as the browser keeps it, so a
process caps how many it holds at once (`MADOGUCHI_MAX_SSE_STREAMS`, shared by the
resident pages and the staff consoles through the server's `Services.sse_slots`): past the cap a new
stream gets `503` with `Retry-After`, and the browser's automatic reconnect tries again
later. Streams already open are never closed to make room.

Use:
    slots = services_of(request.app).sse_slots   # one StreamSlots per process (bot/services.py)
    if not slots.acquire():
        return server_busy()
    try:
        stream = await open_stream(request)
        await stream.send(event("ready", {...}))
        await relay(stream, queue)           # until the queue yields None
    finally:
        slots.release()
"""
from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, Optional

from sanic.request import Request
from sanic.response import HTTPResponse

from bot.errors import error_response

DEFAULT_MAX_STREAMS = 500
KEEPALIVE_SECONDS = 15.0
RETRY_AFTER_SECONDS = 30
RECONNECT_MILLISECONDS = 3000
STREAM_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
KEEPALIVE = ": keep-alive\n\n"


class StreamSlots:
    """How many streams are open in this process, and how many may be."""

    def __init__(self, limit: int = DEFAULT_MAX_STREAMS) -> None:
        self.limit = max(0, int(limit))
        self.open = 0

    @property
    def full(self) -> bool:
        """Every slot is taken (a page asking whether its stream would open gets `server_busy()`)."""
        return self.open >= self.limit

    def acquire(self) -> bool:
        """Take a slot; False when every slot is taken (the caller answers `server_busy()`)."""
        if self.full:
            return False
        self.open += 1
        return True

    def release(self) -> None:
        self.open = max(0, self.open - 1)


def server_busy(retry_after: int = RETRY_AFTER_SECONDS, message: Optional[str] = None) -> HTTPResponse:
    """503 with Retry-After: too many live streams are open in this process right now (`message`:
    the catalog's `notice_server_busy` on a resident's page)."""
    return error_response(
        503, "too_many_streams",
        message or "The server is busy. Live updates will resume shortly; messages still work. "
                   "混み合っています。しばらくすると自動で再開します。メッセージの送信はできます。",
        headers={"Retry-After": str(retry_after), "Cache-Control": "no-store"})


def event(name: str, data: Any, event_id: Optional[str] = None) -> str:
    """One SSE event; `event_id` lets the browser resume after it (Last-Event-ID)."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    lines = "".join(f"data: {line}\n" for line in payload.split("\n"))
    prefix = f"id: {event_id}\n" if event_id is not None else ""
    return f"{prefix}event: {name}\n{lines}\n"


async def open_stream(request: Request, headers: Optional[Dict[str, str]] = None,
                      reconnect_ms: int = RECONNECT_MILLISECONDS):
    """Start a text/event-stream response (the reconnect delay is sent first)."""
    stream = await request.respond(content_type="text/event-stream; charset=utf-8",
                                   headers=dict(STREAM_HEADERS, **(headers or {})))
    await stream.send(f"retry: {reconnect_ms}\n\n")
    return stream


async def relay(stream: Any, queue: "asyncio.Queue[Optional[str]]",
                keepalive_seconds: float = KEEPALIVE_SECONDS) -> None:
    """Send what the queue yields until it yields None; a comment line keeps idle proxies open."""
    while True:
        try:
            chunk = await asyncio.wait_for(queue.get(), timeout=keepalive_seconds)
        except asyncio.TimeoutError:
            chunk = KEEPALIVE
        if chunk is None:
            break
        await stream.send(chunk)
    await stream.send("", end_stream=True)
