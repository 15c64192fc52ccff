"""A Redis ticket lock whose every step is one atomic Redis script.

Rasa's RedisLockStore reads the whole lock, adds a ticket in Python and writes it back: two
replicas that take a ticket for the same conversation at the same moment can both get the
same number (or lose each other's ticket) and then both handle a turn at once. Here a ticket
is an INCR plus sorted-set entries (queue order, expiry), issued, checked and returned inside
Redis scripts, with Redis's own clock, so replicas with skewed clocks still agree.

Waiting is async (redis.asyncio) and polls every few milliseconds, not every second: a
resident who sends two messages quickly is not held up for a whole second.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Optional

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore

logger = logging.getLogger(__name__)

KEY_PREFIX = "madoguchi:lock:"
POLL_FIRST_SECONDS = 0.005
POLL_MAX_SECONDS = 0.1

# Each conversation has two sorted sets over the same ticket numbers: `queue` scored by the
# number (who is next) and `expiry` scored by the expiry time (what to drop), plus a counter.
EXPIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, n in ipairs(gone) do
  redis.call('ZREM', KEYS[1], n)
  redis.call('ZREM', KEYS[2], n)
end
"""

# KEYS: queue, expiry, counter. ARGV: lifetime (s). Returns the new ticket number.
ISSUE = EXPIRE + """
local life = tonumber(ARGV[1])
local n = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[1], n, n)
redis.call('ZADD', KEYS[2], now + life, n)
local ttl = math.ceil(life * 1000) + 60000
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ttl) end
return n
"""

# KEYS: queue, expiry. ARGV: ticket. Returns 1 when it is this ticket's turn, 0 while an
# earlier ticket is served, -1 when this ticket expired (it waited longer than its lifetime).
TURN = EXPIRE + """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return -1 end
local first = redis.call('ZRANGE', KEYS[1], 0, 0)
if first[1] == ARGV[1] then return 1 end
return 0
"""

# KEYS: queue, expiry, counter. ARGV: ticket. Removes it; the last one out removes the lock.
RELEASE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
end
return 1
"""


class AtomicRedisLockStore(LockStore):
    """Rasa lock store (endpoint type `bot.store.lock_store.AtomicRedisLockStore`, url = redis URL)."""

    def __init__(self, endpoint_config: Any = None, url: Optional[str] = None, key_prefix: str = KEY_PREFIX) -> None:
        import redis
        import redis.asyncio

        url = url or getattr(endpoint_config, "url", None) or "redis://127.0.0.1:6379/0"
        self.red = redis.Redis.from_url(url)
        self.async_red = redis.asyncio.Redis.from_url(url)
        self.key_prefix = key_prefix
        self._issue = self.red.register_script(ISSUE)
        self._turn = self.red.register_script(TURN)
        self._release = self.red.register_script(RELEASE)
        self._async_issue = self.async_red.register_script(ISSUE)
        self._async_turn = self.async_red.register_script(TURN)
        self._async_release = self.async_red.register_script(RELEASE)
        super().__init__()

    def keys(self, conversation_id: str) -> list:
        base = self.key_prefix + conversation_id
        return [base, base + ":expiry", base + ":next"]

    # --- the path every turn takes (async, atomic) -------------------------------------------
    @asynccontextmanager
    async def lock(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = POLL_MAX_SECONDS) -> AsyncGenerator[TicketLock, None]:
        keys = self.keys(conversation_id)
        try:
            ticket = int(await self._async_issue(keys=keys, args=[lock_lifetime]))
        except Exception as error:  # Redis down: Rasa reports a LockError, the channel a polite reply
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error
        try:
            yield await self._wait_for_turn(conversation_id, ticket, min(wait_time_in_seconds, POLL_MAX_SECONDS))
        finally:
            await self._async_release(keys=keys, args=[ticket])

    async def _wait_for_turn(self, conversation_id: str, ticket: int, longest_sleep: float) -> TicketLock:
        keys, sleep = self.keys(conversation_id)[:2], POLL_FIRST_SECONDS
        while True:
            turn = int(await self._async_turn(keys=keys, args=[ticket]))
            if turn == 1:
                return await asyncio.to_thread(self._lock_or_empty, conversation_id)
            if turn == -1:
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
            await asyncio.sleep(sleep)
            sleep = min(sleep * 2, longest_sleep)

    def _lock_or_empty(self, conversation_id: str) -> TicketLock:
        return self.get_lock(conversation_id) or TicketLock(conversation_id)

    # --- Rasa's synchronous interface, for its other callers ---------------------------------
    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return int(self._issue(keys=self.keys(conversation_id), args=[lock_lifetime]))
        except Exception as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def get_lock(self, conversation_id: str) -> Optional[TicketLock]:
        queue, expiry, _ = self.keys(conversation_id)
        numbers = self.red.zrange(queue, 0, -1)
        expires = dict(self.red.zrange(expiry, 0, -1, withscores=True))
        if not numbers:
            return None
        tickets = deque(Ticket(int(n), expires.get(n, 0.0)) for n in numbers)
        return TicketLock(conversation_id, tickets)

    def save_lock(self, lock: TicketLock) -> None:
        """Replace the stored tickets with `lock`'s in one transaction (used by Rasa's helpers only)."""
        queue, expiry, counter = self.keys(lock.conversation_id)
        with self.red.pipeline(transaction=True) as pipe:
            pipe.delete(queue, expiry)
            if lock.tickets:
                pipe.zadd(queue, {str(t.number): t.number for t in lock.tickets})
                pipe.zadd(expiry, {str(t.number): t.expires for t in lock.tickets})
                pipe.set(counter, max(t.number for t in lock.tickets))
            pipe.execute()

    def delete_lock(self, conversation_id: str) -> None:
        deleted = self.red.delete(*self.keys(conversation_id))
        self._log_deletion(conversation_id, bool(deleted))

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._release(keys=self.keys(conversation_id), args=[ticket_number])

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        self.finish_serving(conversation_id, ticket_number)  # the script removes an empty lock itself
