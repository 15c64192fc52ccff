"""Login throttling: growing delays after repeated failures, per account and per address.

Kept in memory for one process behind three methods (`attempt`, `succeeded`, `forget_expired`),
so a shared store (Redis) can take its place when the service runs as several processes.
"""
from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Deque, Dict, Optional, Tuple

WINDOW_SECONDS = 15 * 60  # failures older than this are forgotten
ACCOUNT_LIMIT = 5  # failed logins for one account before delays start
ADDRESS_LIMIT = 20  # one address may be an office behind one router: more room
BASE_DELAY_SECONDS = 30.0  # the first delay; each further failure doubles it
MAX_DELAY_SECONDS = float(WINDOW_SECONDS)
MAX_RECORDS = 50_000  # bounds memory under a spray of made-up usernames

Key = Tuple[str, str]  # ("account", name) or ("address", ip)


@dataclass
class _Record:
    failures: Deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0
    reported: bool = False  # this block was audited already


@dataclass(frozen=True)
class Refusal:
    """A login refused without checking the password: answer 429 with Retry-After."""

    by: str  # "account" or "address"
    retry_after: int  # whole seconds, at least 1
    first: bool  # the first refusal of this block (audit it once, not every retry)


class LoginThrottle:
    def __init__(self, account_limit: int = ACCOUNT_LIMIT, address_limit: int = ADDRESS_LIMIT,
                 window: float = WINDOW_SECONDS, base_delay: float = BASE_DELAY_SECONDS,
                 max_delay: float = MAX_DELAY_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = {"account": account_limit, "address": address_limit}
        self.window, self.base_delay, self.max_delay, self.clock = window, base_delay, max_delay, clock
        self._records: Dict[Key, _Record] = {}

    def attempt(self, account: str, address: str) -> Optional[Refusal]:
        """Before a password check: a refusal while either key is blocked; otherwise the attempt
        is counted as a failure now (so parallel guesses cannot slip past the limit) and None."""
        now = self.clock()
        keys = [("address", address), ("account", account.strip().lower()[:64])]
        for key in keys:
            record = self._records.get(key)
            if record is not None and now < record.blocked_until:
                first, record.reported = not record.reported, True
                return Refusal(key[0], max(1, math.ceil(record.blocked_until - now)), first)
        for key in keys:
            self._fail(key, now)
        return None

    def succeeded(self, account: str, address: str) -> None:
        """A correct password clears the account's failures; the address keeps its earlier
        failures but not this attempt (counted in advance by `attempt`)."""
        self._records.pop(("account", account.strip().lower()[:64]), None)
        record = self._records.get(("address", address))
        if record is not None and record.failures:
            record.failures.pop()

    def forget_expired(self) -> None:
        now = self.clock()
        for key in [k for k, r in self._records.items() if self._expire(r, now) and now >= r.blocked_until]:
            del self._records[key]

    def _fail(self, key: Key, now: float) -> None:
        if key not in self._records and len(self._records) >= MAX_RECORDS:
            self.forget_expired()
        record = self._records.setdefault(key, _Record())
        self._expire(record, now)
        record.failures.append(now)
        over = len(record.failures) - self.limits[key[0]]
        if over >= 0:
            record.blocked_until = now + min(self.max_delay, self.base_delay * 2 ** over)
            record.reported = False

    def _expire(self, record: _Record, now: float) -> bool:
        """Drop failures older than the window; True when none are left."""
        while record.failures and record.failures[0] <= now - self.window:
            record.failures.popleft()
        return not record.failures
