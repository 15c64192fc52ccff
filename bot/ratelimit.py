"""Per-sender rate limits for residents: one conversation, one client address.

Fixed windows: at most `limit` hits per `window` seconds per key. With Redis configured the
counters are Redis keys (INCR + EXPIRE in one transaction), so every replica counts the same
hits; without it they live in this process. Keys are hashed: Redis never holds a conversation
id or an address. When Redis cannot be reached the process counts alone rather than refusing
residents (a limit is a guard, not a service residents depend on).

Two users (bot/server.py installs both through `install_rate_limits`):
- the handoff gate asks `conversations.hit(conversation id)` for every message of every channel
  and answers a flood with a polite phrase instead of passing it to Rasa;
- a request middleware asks `addresses.hit(client address)` on the resident HTTP entry points
  (REST, web) and answers 429 with Retry-After. Loopback addresses are not limited: behind a
  proxy whose X-Forwarded-For is not trusted every resident would share 127.0.0.1 (one flood would
  lock out the whole city), and local tests and benchmarks are not abuse.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time
from typing import Any, Callable, Dict, Optional, Protocol, Tuple

from sanic.request import Request
from sanic.response import HTTPResponse

from bot.access import is_loopback
from bot.errors import error_response

logger = logging.getLogger(__name__)

KEY_PREFIX = "madoguchi:ratelimit:"
# Resident entry points limited per client address (POST only: reading a page is not a message).
ADDRESS_LIMITED_PATHS = ("/webhooks/rest/webhook", "/webhooks/web/message")
# In-process counters are pruned when there are this many (old windows only).
MAX_LOCAL_KEYS = 10000


class RateLimiter:
    """At most `limit` hits per `window` seconds per key; `limit` 0 turns the limiter off."""

    def __init__(self, scope: str, limit: int, window: float, redis_url: str = "",
                 clock: Callable[[], float] = time.time) -> None:
        self.scope = scope
        self.limit = limit
        self.window = max(1.0, float(window))
        self.clock = clock  # wall time: replicas agree on window numbers
        self._redis: Any = None
        if redis_url and limit:
            import redis.asyncio

            self._redis = redis.asyncio.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
        self._local: Dict[Tuple[str, int], int] = {}

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    async def hit(self, key: str) -> Optional[float]:
        """Count one hit; None when it is within the limit, else the seconds until the window resets."""
        if not self.enabled:
            return None
        now = self.clock()
        window_number = int(now // self.window)
        count = await self._count(self._hashed(key), window_number)
        if count <= self.limit:
            return None
        return max(1.0, (window_number + 1) * self.window - now)

    def _hashed(self, key: str) -> str:
        return hashlib.sha256(f"{self.scope}\0{key}".encode("utf-8")).hexdigest()[:32]

    async def _count(self, hashed: str, window_number: int) -> int:
        if self._redis is not None:
            try:
                return await self._count_in_redis(hashed, window_number)
            except Exception as error:  # Redis down: count here (logged, never the key)
                logger.warning("rate limit (%s): Redis unavailable, counting in this process: %s",
                               self.scope, type(error).__name__)
        return self._count_here(hashed, window_number)

    async def _count_in_redis(self, hashed: str, window_number: int) -> int:
        key = f"{KEY_PREFIX}{self.scope}:{hashed}:{window_number}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, math.ceil(self.window) + 1)
            count, _ = await pipe.execute()
        return int(count)

    def _count_here(self, hashed: str, window_number: int) -> int:
        if len(self._local) >= MAX_LOCAL_KEYS:
            self._local = {k: v for k, v in self._local.items() if k[1] >= window_number}
        slot = (hashed, window_number)
        self._local[slot] = self._local.get(slot, 0) + 1
        return self._local[slot]

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.close()


class RateLimits:
    """The limiters of one server process (`Services.rate_limits`, bot/services.py)."""

    def __init__(self, settings: Any) -> None:
        window = settings.rate_limit_window_seconds
        self.conversations = RateLimiter("conversation", settings.rate_limit_conversation, window, settings.redis_url)
        self.addresses = RateLimiter("address", settings.rate_limit_address, window, settings.redis_url)

    async def close(self) -> None:
        await self.conversations.close()
        await self.addresses.close()


def too_many_requests(retry_after: float, message: str) -> HTTPResponse:
    """429 in the one error shape, with Retry-After in whole seconds."""
    return error_response(429, "rate_limited", message, headers={"Retry-After": str(math.ceil(retry_after))},
                          ensure_ascii=False)


def client_address(request: Request) -> str:
    """The client's address: X-Forwarded-For only through MADOGUCHI_TRUSTED_PROXIES (Sanic's remote_addr)."""
    return request.remote_addr or request.ip or ""


class CatalogSource(Protocol):
    """What the refusal needs of the server's catalog provider (bot/catalog/provider.py)."""

    async def current(self) -> Any: ...


async def limited_message(catalogs: CatalogSource) -> str:
    """The refusal in Japanese and English, from intents/phrases.yml (`rate_limited`)."""
    catalog = await catalogs.current()
    return " ".join(catalog.phrase("rate_limited", language) for language in ("ja", "en"))


def install_rate_limits(app: Any, settings: Any, catalogs: CatalogSource) -> RateLimits:
    """The limits for the gate (returned), and the per-address limit on the resident HTTP entry points
    (refused with the catalog's `rate_limited` phrase)."""
    limits = RateLimits(settings)

    async def limit_address(request: Request) -> Optional[HTTPResponse]:
        if request.method != "POST" or request.path not in ADDRESS_LIMITED_PATHS:
            return None
        address = client_address(request)
        if not address or is_loopback(address):
            return None
        retry_after = await limits.addresses.hit(address)
        if retry_after is None:
            return None
        return too_many_requests(retry_after, await limited_message(catalogs))

    async def close(_app: Any, _loop: Any) -> None:
        await limits.close()

    if limits.addresses.enabled:
        app.register_middleware(limit_address, "request")
    app.register_listener(close, "after_server_stop")
    return limits
