"""Switch the running server to another model with no restart and no dropped turn.

The new model is loaded in a worker thread (≈4 s of work on an idle server) while the old agent
keeps answering; then, in one synchronous step on the event loop (no `await`, so no turn can
run in between), a new Agent sharing the old one's tracker store, lock store, action endpoint
and NLG takes its place (`Services.agent`, bot/services.py). Turns already running finish on the old agent;
every message after the swap is handled by the new one, still behind the handoff gate,
which looks the agent up per message (bot/server.py register_channels).

Loading holds the GIL for seconds of Python (TensorFlow tracing the prediction graph), which
would stretch the turns of residents talking meanwhile. So the loading thread gives way: while
any turn is in flight it runs in short slices with pauses between them (GiveWay), and at full
speed only when no turn is running; meanwhile the switch interval is short and the garbage
collector leaves the server's older objects alone. A publish under load takes longer; the turns
do not wait for it. Nor may the loading reset state the running model shares with it: Rasa's
model constructor emptied TensorFlow's kernel cache, costing the next turn ≈100 ms (bot/nlu/diet.py)."""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from bot.services import Services, TurnsInFlight

logger = logging.getLogger(__name__)
SWITCH_INTERVAL = 0.0005  # seconds; Python's default is 0.005


class GiveWay:
    """A trace hook for the thread that loads a model: after each `slice_seconds` of its own CPU
    time it pauses (which releases the GIL) while residents' turns are in flight, so that it takes
    at most `busy_share` of a core while they are, and runs at full speed when none is. Python
    calls it on every function call of that thread only (sys.settrace; returning None skips line
    events); the CPU clock costs more than a call, so it is read on every CHECK_EVERY-th call."""

    CHECK_EVERY = 32

    def __init__(self, turns: TurnsInFlight, slice_seconds: float = 0.002, busy_share: float = 0.05,
                 clock: Callable[[], float] = time.thread_time, sleep: Callable[[float], None] = time.sleep) -> None:
        self.turns, self.slice_seconds, self.clock, self.sleep = turns, slice_seconds, clock, sleep
        self.pause_seconds = slice_seconds * (1 - busy_share) / busy_share
        self.calls = 0
        self.slice_started = clock()
        self.paused_seconds = 0.0

    def __call__(self, frame: Any, event: str, arg: Any) -> None:
        self.calls += 1
        if self.calls % self.CHECK_EVERY or self.clock() - self.slice_started < self.slice_seconds:
            return None
        if self.turns.count:
            self.sleep(self.pause_seconds)
            self.paused_seconds += self.pause_seconds
        self.slice_started = self.clock()
        return None

    @contextlib.contextmanager
    def installed(self) -> Iterator["GiveWay"]:
        """On the calling thread only; a tracer already there (a debugger, coverage) comes back after."""
        previous, interval = sys.gettrace(), sys.getswitchinterval()
        self.slice_started = self.clock()  # the CPU clock is per thread: start it on the loading one
        # A turn's thread waits up to the switch interval (5 ms) for the GIL each time it takes it
        # back (after every database call, every socket read) while this thread runs: 0.5 ms meanwhile.
        sys.setswitchinterval(min(interval, SWITCH_INTERVAL))
        # The garbage collector runs on whichever thread allocates, holding the GIL: a full
        # collection of the whole server (two models' objects) mid-load stalled turns ≈250 ms.
        # Frozen, the objects made before the load are not scanned until it ends.
        gc.freeze()
        sys.settrace(self)
        try:
            yield self
        finally:
            sys.settrace(previous)
            gc.unfreeze()
            sys.setswitchinterval(interval)


def load_processor(current: Any, model_path: Path, give_way: GiveWay) -> Any:
    """The new model's MessageProcessor on the running agent's stores (blocking: worker thread),
    giving way to the residents' turns in flight."""
    from rasa.core.processor import MessageProcessor

    with give_way.installed():
        return MessageProcessor(model_path=str(model_path), tracker_store=current.tracker_store,
                                lock_store=current.lock_store, generator=current.nlg,
                                action_endpoint=current.action_endpoint,
                                http_interpreter=current.http_interpreter)


def swap(services: Services, current: Any, processor: Any) -> Any:
    """Put an agent with `processor` in place of `current`. Synchronous on purpose (atomic on the loop)."""
    from rasa.core.agent import Agent
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator

    agent = Agent(domain=processor.domain, generator=current.nlg, lock_store=current.lock_store,
                  action_endpoint=current.action_endpoint, model_server=current.model_server,
                  remote_storage=current.remote_storage, http_interpreter=current.http_interpreter)
    agent.tracker_store = current.tracker_store  # the same store object: no conversation is lost or copied
    agent.processor = processor
    current.tracker_store.domain = processor.domain
    if isinstance(current.nlg, TemplatedNaturalLanguageGenerator):
        current.nlg.responses = processor.domain.responses
    services.agent.replace(agent)
    return agent


def give_way_for(services: Services, busy_share: float) -> GiveWay:
    """A GiveWay for the turns this server counts."""
    return GiveWay(services.turns, busy_share=busy_share)


async def load_and_swap(services: Services, model_path: Path, give_way: GiveWay) -> Any:
    """The new agent, running. `give_way` tells how far the loading is (its calls) and how long it paused."""
    current = services.agent.running()
    started = time.monotonic()
    processor = await asyncio.to_thread(load_processor, current, model_path, give_way)
    logger.info("loaded %s in %.1f s beside the running model (gave way to turns for %.1f s, %d calls traced)",
                model_path.name, time.monotonic() - started, give_way.paused_seconds, give_way.calls)
    if services.agent.current() is not current:  # Rasa's PUT /model swapped meanwhile: build on theirs
        current = services.agent.running()
    return swap(services, current, processor)
