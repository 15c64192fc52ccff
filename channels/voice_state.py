"""What the phone channel remembers between Twilio's webhook requests.

- `Call`: one call's state (speed, language, the last answer, staff messages to play).
- `CallBook`: the calls by CallSid, and which call of a conversation is still on the line
  (a staff reply is played to it at its next webhook turn).
- `SmsAfterCall`: for a caller who agreed to text messages, the number for a while after the
  call ends, so a clerk's later reply can still reach them. Nothing else keeps a number past
  the call.
- `SlipAttempts`: wrong visit slip numbers per caller over an hour, across calls, so a slip
  cannot be found by trying numbers from one phone.

Twilio may post a call's webhooks to any replica, so the calls sit behind one interface: in
this process's `CallBook` (`LocalCalls`), or in Redis (`RedisCalls`, with MADOGUCHI_REDIS_URL)
where every replica reads and writes the same call, and a clerk's reply made on any replica is
queued for the caller's next turn wherever it lands; a consenting caller's number for replies
by SMS after the call is shared the same way. There the calling number is encrypted (keyed by
the Twilio auth token) and every key expires (with the call; the SMS number after a day).
Wrong slip numbers are counted there too, so trying numbers across replicas gains nothing.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

Clock = Callable[[], float]

# Calls remembered at once (per-call state is small; the oldest idle call goes first).
MAX_CALLS = 2000
# A call that posted nothing for this long is taken as ended even without Twilio's status
# callback (a Gather answers within seconds; a long answer plays for a minute or two).
LIVE_SECONDS = 300.0
# How long a consenting caller's number is kept after the call for a clerk's reply by SMS.
SMS_AFTER_CALL_SECONDS = 24 * 3600.0
MAX_SMS_NUMBERS = 5000
# Wrong visit slip numbers one caller may key in per window (then staff take over).
SLIP_WRONG_LIMIT = 5
SLIP_WINDOW_SECONDS = 3600.0
MAX_SLIP_CALLERS = 50_000


@dataclass
class Call:
    """What one call remembers between webhook requests."""

    sender: str
    caller: str  # the calling number (E.164), only in memory, only for the call-back and the SMS
    slow: bool = False
    stage: str = "main"  # main | menu:<key> | answer | callback | slip
    language: str = "ja"  # what the phone speaks: ja, or en when chosen and an English voice exists
    last: List[str] = field(default_factory=list)  # what the last answer said, for 9 / 「もう一度」
    rest: List[str] = field(default_factory=list)  # the parts of the answer not played yet
    misses: int = 0  # silences and unclear answers in a row
    sms_consent: bool = False  # the caller asked for a text message in this call
    pending: List[Dict[str, Any]] = field(default_factory=list)  # staff messages not played yet
    link: str = ""  # the city's page the last answer quoted (an FAQ entry): 2 sends it by SMS
    link_title: str = ""
    section_phone: str = ""  # the section the last answer routed to (総合案内): 0 transfers there
    seen: float = 0.0  # monotonic time of the call's last webhook request

    def take_pending(self) -> List[Dict[str, Any]]:
        messages, self.pending = self.pending, []
        return messages


class CallBook:
    def __init__(self, clock: Clock = time.monotonic, live_seconds: float = LIVE_SECONDS,
                 max_calls: int = MAX_CALLS) -> None:
        self.clock, self.live_seconds, self.max_calls = clock, live_seconds, max_calls
        self._calls: "OrderedDict[str, Call]" = OrderedDict()

    def touch(self, call_sid: str, make: Callable[[], Call]) -> Call:
        """The call `call_sid` (made by `make` on its first request), marked as seen now."""
        call = self._calls.get(call_sid)
        if call is None:
            call = self._calls[call_sid] = make()
            while len(self._calls) > self.max_calls:
                self._calls.popitem(last=False)
        self._calls.move_to_end(call_sid)
        call.seen = self.clock()
        return call

    def end(self, call_sid: str) -> Optional[Call]:
        return self._calls.pop(call_sid, None)

    def live(self, sender: str) -> Optional[Call]:
        """The most recent call of the conversation `sender` that is still on the line."""
        oldest = self.clock() - self.live_seconds
        for call in reversed(self._calls.values()):
            if call.seen < oldest:
                break  # ordered by last request: every call before this one is older still
            if call.sender == sender:
                return call
        return None


class LocalCalls:
    """The calls of this process only (one replica): the `CallBook` holds the very objects."""

    def __init__(self, book: Optional[CallBook] = None, sms_numbers: Optional["SmsAfterCall"] = None,
                 slips: Optional["SlipAttempts"] = None) -> None:
        self.book = book or CallBook()
        self.sms_numbers = sms_numbers or SmsAfterCall()
        self.slips = slips or SlipAttempts()

    async def open(self, call_sid: str, make: Callable[[], Call]) -> Call:
        """The call of this webhook request (new on its first), marked as seen now."""
        return self.book.touch(call_sid, make)

    async def save(self, call_sid: str, call: Call) -> None:
        """Nothing to write: the book holds the object the request changed."""

    async def end(self, call_sid: str) -> Optional[Call]:
        return self.book.end(call_sid)

    async def hold_for_caller(self, sender: str, message: Dict[str, Any]) -> bool:
        """Queue a staff message for the call of `sender` on the line; False when none is."""
        call = self.book.live(sender)
        if call is None:
            return False
        call.pending.append(dict(message))
        return True

    async def take_pending(self, call: Call) -> List[Dict[str, Any]]:
        return call.take_pending()

    async def remember_number(self, sender: str, number: str) -> None:
        """After the call, for a clerk's replies by SMS (the caller agreed to text messages)."""
        self.sms_numbers.remember(sender, number)

    async def number_for(self, sender: str) -> Optional[str]:
        return self.sms_numbers.number(sender)

    async def slip_allowed(self, caller: str) -> bool:
        """May `caller` (a conversation id, or "anonymous") look up a visit slip now?"""
        return self.slips.allowed(caller)

    async def slip_wrong(self, caller: str) -> None:
        self.slips.wrong(caller)


class RedisCalls:
    """The calls of every replica, in Redis: keys `<prefix>:call:<CallSid>` (the call, as JSON),
    `<prefix>:live:<sender>` (the CallSid on the line) and `<prefix>:pending:<sender>` (staff
    messages not played yet), each expiring `live_seconds` after the call's last request; and
    `<prefix>:sms:<sender>` (a consenting caller's number, encrypted) for `sms_seconds`."""

    def __init__(self, url: str, prefix: str, secret: str, live_seconds: float = LIVE_SECONDS,
                 sms_seconds: float = SMS_AFTER_CALL_SECONDS) -> None:
        self.url, self.prefix, self.live_seconds = url, prefix, int(live_seconds)
        self.sms_seconds = int(sms_seconds)
        self._fernet_key = base64.urlsafe_b64encode(hashlib.sha256(b"madoguchi-call:" + secret.encode()).digest())
        self._client: Any = None

    def _redis(self) -> Any:
        if self._client is None:  # made in the running loop, on first use
            import redis.asyncio as redis

            self._client = redis.from_url(self.url)
        return self._client

    def _key(self, kind: str, name: str) -> str:
        return f"{self.prefix}:{kind}:{name}"

    def _encrypt(self, number: str) -> str:
        from cryptography.fernet import Fernet

        return Fernet(self._fernet_key).encrypt(number.encode()).decode()

    def _decrypt(self, token: Any) -> str:
        from cryptography.fernet import Fernet

        return Fernet(self._fernet_key).decrypt(token if isinstance(token, bytes) else str(token).encode()).decode()

    def _encode(self, call: Call) -> str:
        state = dataclasses.asdict(call)
        state.pop("pending")  # kept in its own list, so a reply queued meanwhile is never overwritten
        state["caller"] = self._encrypt(call.caller)
        return json.dumps(state, ensure_ascii=False)

    def _decode(self, raw: Any) -> Call:
        state = json.loads(raw)
        state["caller"] = self._decrypt(state["caller"])
        fields = {f.name for f in dataclasses.fields(Call)}
        return Call(**{name: value for name, value in state.items() if name in fields})

    async def open(self, call_sid: str, make: Callable[[], Call]) -> Call:
        raw = await self._redis().get(self._key("call", call_sid))
        call = self._decode(raw) if raw else make()
        call.seen = time.monotonic()
        await self.save(call_sid, call)  # on the line from now on, for a reply made anywhere
        return call

    async def save(self, call_sid: str, call: Call) -> None:
        pipe = self._redis().pipeline(transaction=True)
        pipe.set(self._key("call", call_sid), self._encode(call), ex=self.live_seconds)
        pipe.set(self._key("live", call.sender), call_sid, ex=self.live_seconds)
        pipe.expire(self._key("pending", call.sender), self.live_seconds)
        await pipe.execute()

    async def end(self, call_sid: str) -> Optional[Call]:
        client = self._redis()
        raw = await client.get(self._key("call", call_sid))
        if not raw:
            return None
        call = self._decode(raw)
        await client.delete(self._key("call", call_sid))
        if (await client.get(self._key("live", call.sender))) in (call_sid, call_sid.encode()):
            await client.delete(self._key("live", call.sender))
        return call

    async def hold_for_caller(self, sender: str, message: Dict[str, Any]) -> bool:
        client = self._redis()
        if not await client.exists(self._key("live", sender)):
            return False
        pipe = client.pipeline(transaction=True)
        pipe.rpush(self._key("pending", sender), json.dumps(dict(message), ensure_ascii=False))
        pipe.expire(self._key("pending", sender), self.live_seconds)
        await pipe.execute()
        return True

    async def take_pending(self, call: Call) -> List[Dict[str, Any]]:
        pipe = self._redis().pipeline(transaction=True)
        pipe.lrange(self._key("pending", call.sender), 0, -1)
        pipe.delete(self._key("pending", call.sender))
        waiting, _ = await pipe.execute()
        return [json.loads(item) for item in waiting] + call.take_pending()

    async def remember_number(self, sender: str, number: str) -> None:
        await self._redis().set(self._key("sms", sender), self._encrypt(number), ex=self.sms_seconds)

    async def number_for(self, sender: str) -> Optional[str]:
        token = await self._redis().get(self._key("sms", sender))
        return self._decrypt(token) if token else None

    async def slip_allowed(self, caller: str) -> bool:
        key = self._key("slips", caller)
        pipe = self._redis().pipeline(transaction=True)
        pipe.zremrangebyscore(key, "-inf", time.time() - SLIP_WINDOW_SECONDS)
        pipe.zcard(key)
        _, wrong = await pipe.execute()
        return int(wrong) < SLIP_WRONG_LIMIT

    async def slip_wrong(self, caller: str) -> None:
        key = self._key("slips", caller)
        now = time.time()
        pipe = self._redis().pipeline(transaction=True)
        pipe.zadd(key, {f"{now}:{os.urandom(4).hex()}": now})
        pipe.expire(key, int(SLIP_WINDOW_SECONDS))
        await pipe.execute()


def live_calls(redis_url: str, prefix: str, secret: str) -> Any:
    """Shared calls when the service has Redis, else this process's."""
    return RedisCalls(redis_url, prefix, secret) if redis_url else LocalCalls()


class SmsAfterCall:
    def __init__(self, clock: Clock = time.monotonic, keep_seconds: float = SMS_AFTER_CALL_SECONDS,
                 max_numbers: int = MAX_SMS_NUMBERS) -> None:
        self.clock, self.keep_seconds, self.max_numbers = clock, keep_seconds, max_numbers
        self._numbers: "OrderedDict[str, Tuple[str, float]]" = OrderedDict()

    def remember(self, sender: str, number: str) -> None:
        self._numbers.pop(sender, None)
        self._numbers[sender] = (number, self.clock() + self.keep_seconds)
        while len(self._numbers) > self.max_numbers:
            self._numbers.popitem(last=False)

    def number(self, sender: str) -> Optional[str]:
        found = self._numbers.get(sender)
        if found is None:
            return None
        if self.clock() >= found[1]:
            del self._numbers[sender]
            return None
        return found[0]

    def forget(self, sender: str) -> None:
        self._numbers.pop(sender, None)


class SlipAttempts:
    def __init__(self, clock: Clock = time.monotonic, limit: int = SLIP_WRONG_LIMIT,
                 window: float = SLIP_WINDOW_SECONDS, max_callers: int = MAX_SLIP_CALLERS) -> None:
        self.clock, self.limit, self.window, self.max_callers = clock, limit, window, max_callers
        self._wrong: "OrderedDict[str, Deque[float]]" = OrderedDict()

    def allowed(self, caller: str) -> bool:
        """May `caller` look up a slip now (fewer than `limit` wrong numbers in the window)?"""
        return len(self._recent(caller)) < self.limit

    def wrong(self, caller: str) -> None:
        """`caller` keyed a number that is no slip."""
        failures = self._recent(caller)
        failures.append(self.clock())
        self._wrong[caller] = failures
        self._wrong.move_to_end(caller)
        while len(self._wrong) > self.max_callers:
            self._wrong.popitem(last=False)

    def _recent(self, caller: str) -> Deque[float]:
        failures = self._wrong.get(caller) or deque()
        while failures and failures[0] <= self.clock() - self.window:
            failures.popleft()
        if not failures:
            self._wrong.pop(caller, None)
        return failures
