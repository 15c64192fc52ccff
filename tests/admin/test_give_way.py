"""A model loading beside the running one gives way to the residents' turns (bot/admin/model_swap.py)."""
from __future__ import annotations

import gc
import sys
import threading
import time
from typing import List

import pytest

from bot.admin.model_swap import GiveWay, TurnsInFlight
from bot.settings import Settings


class FakeClock:
    """Each reading is 1 ms later: GiveWay reads it on every 32nd call, so every 64th call ends a 2 ms slice."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: List[float] = []

    def __call__(self) -> float:
        self.now += 0.001
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def busy_work(depth: int = 200) -> int:
    return sum(abs(number) for number in range(depth))  # abs is a C call: only Python frames count


def run_traced(give_way: GiveWay, calls: int) -> None:
    def work() -> None:
        with give_way.installed():
            for _ in range(calls):
                busy_work()
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()


def test_while_turns_are_in_flight_the_loader_pauses_after_every_slice_for_its_share():
    turns, clock = TurnsInFlight(), FakeClock()
    give_way = GiveWay(turns, slice_seconds=0.002, busy_share=0.05, clock=clock, sleep=clock.sleep)
    with turns.counting():
        run_traced(give_way, calls=100)
    assert give_way.pause_seconds == pytest.approx(0.038)  # 2 ms running, 38 ms paused: 5 %
    assert len(clock.sleeps) >= 40 and set(clock.sleeps) == {give_way.pause_seconds}
    assert give_way.paused_seconds == pytest.approx(sum(clock.sleeps))
    assert turns.count == 0


def test_with_no_turn_in_flight_the_loader_runs_at_full_speed():
    turns, clock = TurnsInFlight(), FakeClock()
    give_way = GiveWay(turns, clock=clock, sleep=clock.sleep)
    run_traced(give_way, calls=100)
    assert clock.sleeps == [] and give_way.paused_seconds == 0


def test_the_hook_is_only_on_the_loading_thread_and_an_earlier_tracer_comes_back():
    turns, clock = TurnsInFlight(), FakeClock()
    give_way = GiveWay(turns, clock=clock, sleep=clock.sleep)
    seen: List[str] = []

    def earlier(frame, event, arg):
        seen.append(event)
        return None

    previous = sys.gettrace()
    sys.settrace(earlier)
    try:
        interval = sys.getswitchinterval()
        with turns.counting(), give_way.installed():
            assert sys.gettrace() is give_way
            assert sys.getswitchinterval() == pytest.approx(0.0005)  # turns get the GIL back sooner
            assert gc.get_freeze_count() > 0  # no full collection of the server's objects mid-load
            busy_work()
        assert sys.gettrace() is earlier and sys.getswitchinterval() == interval
        assert gc.get_freeze_count() == 0
        run_traced(give_way, calls=10)  # another thread: this one's tracer is untouched
        assert sys.gettrace() is earlier
    finally:
        sys.settrace(previous)
    assert clock.sleeps  # it did pause on this thread while a turn was counted


def test_a_failing_turn_is_still_uncounted():
    turns = TurnsInFlight()
    with pytest.raises(RuntimeError), turns.counting():
        assert turns.count == 1
        raise RuntimeError("the agent failed")
    assert turns.count == 0


def test_made_on_the_event_loop_thread_it_slices_by_the_loading_threads_own_cpu_time():
    spent = time.thread_time() + 0.2
    while time.thread_time() < spent:  # this thread has used far more CPU than the new one will
        busy_work()
    turns, sleeps = TurnsInFlight(), []
    give_way = GiveWay(turns, sleep=sleeps.append)  # the real per-thread CPU clock
    with turns.counting():
        run_traced(give_way, calls=3000)  # ≈ 0.05 s of CPU on a new thread
    assert len(sleeps) >= 5 and give_way.paused_seconds > 0


@pytest.mark.parametrize("text, expected", [("0.05", 0.05), ("1", 1.0), ("0.25", 0.25)])
def test_the_share_a_publish_may_take_is_set_by_the_environment(text, expected, monkeypatch):
    monkeypatch.delenv("MADOGUCHI_PUBLISH_BUSY_SHARE", raising=False)
    assert Settings.from_env().publish_busy_share == 0.05
    monkeypatch.setenv("MADOGUCHI_PUBLISH_BUSY_SHARE", text)
    assert Settings.from_env().publish_busy_share == expected


@pytest.mark.parametrize("text", ["0", "-0.1", "1.5", "five percent", ""])
def test_a_share_outside_0_to_1_is_a_clear_error(text, monkeypatch):
    monkeypatch.setenv("MADOGUCHI_PUBLISH_BUSY_SHARE", text)
    with pytest.raises(ValueError, match="not a share"):
        Settings.from_env()
