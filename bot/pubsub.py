"""Live events between the processes of one service: publish once, every process's subscribers get it.

A clerk's reply made on one replica must reach a resident whose page stream another replica
holds; a queue change must reach every open staff console. So every live event is published
on a `Bus` under a topic (`staff`, `deliver`, …), and each process hands what arrives to its
local handlers (`subscribe`). One code path, two transports:

- `LocalBus` (no MADOGUCHI_REDIS_URL): a publish is handed to this process's handlers at once.
- `RedisBus`: a publish goes (as JSON) to a Redis channel `<prefix>:<topic>`; one listener task
  per process receives every topic (its own publishes included) and hands them on. The prefix
  is derived from the database URL, so replicas of one service (one database) share events and
  unrelated servers on the same Redis never see each other's.

`publish` never blocks: the Redis transport queues the event and one sender task writes the
queue in order. If Redis drops, both tasks reconnect with backoff; events published while the
listener is down may be lost, so after a reconnect the `on_reconnect` handlers run and make
every live view reload its state (the page and the console read state from the database).
"""
from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, Set, Union

logger = logging.getLogger(__name__)

Event = Dict[str, Any]
Handler = Callable[[Event], Union[None, Awaitable[None]]]
ReconnectHandler = Callable[[], Union[None, Awaitable[None]]]

# Waits between reconnect attempts grow from the first to the last value.
BACKOFF_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)
# Events waiting for Redis at most; past this the oldest are dropped (live views reload anyway).
MAX_OUTBOX = 10_000


class Bus:
    """Topics and their local handlers; the transports differ only in how an event travels."""

    distributed = False  # True when other processes see what this one publishes

    def __init__(self) -> None:
        self._handlers: Dict[str, List[Handler]] = {}
        self._reconnect_handlers: List[ReconnectHandler] = []
        self._tasks: Set["asyncio.Task[Any]"] = set()

    def subscribe(self, topic: str, handler: Handler) -> None:
        """`handler(event)` runs in this process for every event published on `topic` by any process."""
        self._handlers.setdefault(topic, []).append(handler)

    def on_reconnect(self, handler: ReconnectHandler) -> None:
        """`handler()` runs after the transport came back from an outage (events may have been lost)."""
        self._reconnect_handlers.append(handler)

    def publish(self, topic: str, event: Event) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        """Begin receiving (the server's before_server_start)."""

    async def stop(self) -> None:
        """Stop receiving and sending (the server's after_server_stop)."""

    def dispatch(self, topic: str, event: Event) -> None:
        """Hand one event to this process's handlers; a failing handler never stops the others."""
        for handler in list(self._handlers.get(topic, ())):
            self._run(handler, event)

    def reconnected(self) -> None:
        for handler in list(self._reconnect_handlers):
            self._run(handler)

    def _run(self, handler: Callable[..., Any], *args: Any) -> None:
        try:
            result = handler(*args)
        except Exception:
            logger.exception("a live-event handler failed")
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)  # a reference until it is done, else it may be collected mid-way
            task.add_done_callback(self._finished)

    def _finished(self, task: "asyncio.Task[Any]") -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("a live-event handler failed", exc_info=task.exception())


class LocalBus(Bus):
    """One process: a publish is handed to the local handlers at once."""

    def publish(self, topic: str, event: Event) -> None:
        self.dispatch(topic, event)


class RedisBus(Bus):
    """Several processes on one Redis: each publish reaches every process's handlers."""

    distributed = True

    def __init__(self, url: str, prefix: str, backoff: Sequence[float] = BACKOFF_SECONDS) -> None:
        super().__init__()
        self.url, self.prefix, self.backoff = url, prefix, tuple(backoff)
        self._outbox: "asyncio.Queue[tuple]" = asyncio.Queue(maxsize=MAX_OUTBOX)
        self._workers: List["asyncio.Task[None]"] = []
        self.listening = asyncio.Event()  # set while the listener is subscribed (tests wait for it)

    def channel(self, topic: str) -> str:
        return f"{self.prefix}:{topic}"

    def publish(self, topic: str, event: Event) -> None:
        if self._outbox.full():
            self._outbox.get_nowait()
            logger.warning("live events: Redis is not keeping up; the oldest waiting event was dropped")
        self._outbox.put_nowait((topic, json.dumps(event, ensure_ascii=False, default=str)))

    async def start(self) -> None:
        if not self._workers:
            self._workers = [asyncio.ensure_future(self._listen()), asyncio.ensure_future(self._send())]

    async def stop(self) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []

    async def _wait(self, failures: int) -> None:
        await asyncio.sleep(self.backoff[min(failures, len(self.backoff) - 1)])

    async def _listen(self) -> None:
        import redis.asyncio as redis

        failures, connected_before = 0, False
        while True:
            client = redis.from_url(self.url)
            try:
                pubsub = client.pubsub()
                await pubsub.psubscribe(self.channel("*"))
                await _confirmed(pubsub)
                self.listening.set()
                failures = 0
                if connected_before:
                    logger.info("live events: Redis is back; live views reload their state")
                    self.reconnected()
                connected_before = True
                while True:
                    message = await pubsub.get_message(timeout=30.0)
                    if message is None or message.get("type") != "pmessage":
                        continue
                    self._receive(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as error:  # Redis went away: try again, a little later each time
                self.listening.clear()
                logger.warning("live events: Redis listener lost (%s); reconnecting", type(error).__name__)
                await self._wait(failures)
                failures += 1
            finally:
                await _close_quietly(client)

    def _receive(self, channel: Any, data: Any) -> None:
        name = channel.decode() if isinstance(channel, bytes) else str(channel)
        topic = name[len(self.prefix) + 1:]
        try:
            event = json.loads(data)
        except (TypeError, ValueError):
            logger.warning("live events: an unreadable event on %s was ignored", name)
            return
        if isinstance(event, dict):
            self.dispatch(topic, event)

    async def _send(self) -> None:
        import redis.asyncio as redis

        failures = 0
        client: Optional[Any] = None
        pending: Optional[tuple] = None
        while True:
            try:
                if pending is None:
                    pending = await self._outbox.get()
                if client is None:
                    client = redis.from_url(self.url)
                await client.publish(self.channel(pending[0]), pending[1])
                pending, failures = None, 0
            except asyncio.CancelledError:
                await _close_quietly(client)
                raise
            except Exception as error:  # the event is tried again once Redis answers
                logger.warning("live events: publishing to Redis failed (%s); retrying", type(error).__name__)
                await _close_quietly(client)
                client = None
                await self._wait(failures)
                failures += 1



async def _confirmed(pubsub: Any, timeout: float = 5.0) -> None:
    """Wait for Redis to confirm the subscription (sending it proves nothing: a dying connection takes it)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        message = await pubsub.get_message(timeout=0.5)
        if message is not None and message.get("type") == "psubscribe":
            return
    raise ConnectionError("Redis did not confirm the subscription")


async def _close_quietly(client: Optional[Any]) -> None:
    if client is None:
        return
    try:
        await client.close()
    except Exception:  # closing a broken connection may fail too; nothing is left to do
        pass


def topic_prefix(database_url: str) -> str:
    """The Redis channel prefix of one service: replicas share their database, hence the prefix."""
    return "madoguchi:" + hashlib.sha256(database_url.encode("utf-8")).hexdigest()[:16]


def bus_for(redis_url: str, database_url: str) -> Bus:
    """Redis pub/sub when a Redis URL is configured, else events stay in this process."""
    if redis_url:
        return RedisBus(redis_url, topic_prefix(database_url))
    return LocalBus()
