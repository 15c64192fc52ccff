"""The phone's memory between webhook requests, with its clock moved by hand (an hour, a day)."""
from __future__ import annotations

from channels.voice_state import Call, CallBook, SlipAttempts, SmsAfterCall


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_wrong_slip_numbers_are_forgotten_after_the_window():
    clock = Clock()
    attempts = SlipAttempts(clock, limit=5, window=3600)
    for _ in range(4):
        attempts.wrong("voice:a")
        clock.now += 60
    assert attempts.allowed("voice:a")
    attempts.wrong("voice:a")
    assert not attempts.allowed("voice:a") and attempts.allowed("voice:b")  # per caller
    clock.now += 3600 - 4 * 60 + 1  # the first wrong number is over an hour old now
    assert attempts.allowed("voice:a")
    attempts.wrong("voice:a")
    assert not attempts.allowed("voice:a")
    clock.now += 3601
    assert attempts.allowed("voice:a") and attempts._wrong == {}  # nothing kept for a caller with no recent tries


def test_slip_attempts_stay_bounded():
    attempts = SlipAttempts(Clock(), limit=1, max_callers=3)
    for caller in ("a", "b", "c", "d"):
        attempts.wrong(caller)
    assert attempts.allowed("a") and not attempts.allowed("d")  # the oldest caller made room


def test_a_call_is_live_until_it_ends_or_goes_quiet():
    clock = Clock()
    book = CallBook(clock, live_seconds=300)
    first = book.touch("CA1", lambda: Call("voice:x", "+819011112222"))
    assert book.live("voice:x") is first and book.live("voice:y") is None
    clock.now += 301
    assert book.live("voice:x") is None  # no status callback, but nothing heard for five minutes
    second = book.touch("CA2", lambda: Call("voice:x", "+819011112222"))  # calls again
    assert book.touch("CA2", lambda: Call("voice:other", "")) is second
    assert book.live("voice:x") is second
    assert book.end("CA2") is second and book.live("voice:x") is None


def test_a_consenting_callers_number_is_kept_for_a_day_only():
    clock = Clock()
    numbers = SmsAfterCall(clock, keep_seconds=86400)
    numbers.remember("voice:x", "+819011112222")
    assert numbers.number("voice:x") == "+819011112222" and numbers.number("voice:y") is None
    clock.now += 86400
    assert numbers.number("voice:x") is None and numbers._numbers == {}
