"""The services of one server process, typed and built once (bot/server.py `build_app`).

Everything the gate, the channels and the consoles share — the settings, the catalog, the
database and the handoffs, speech, delivery, the bus, the rate limits, the running agent — is
one frozen `Services`, handed to them instead of read from Sanic's untyped `app.ctx`. Only
`attach` and `services_of` touch `app.ctx`: a route handler that has the request but not the
services finds them there, typed.

The agent is not a field but an accessor (`AgentAccess`): Rasa loads it after the app is built
and replaces it when a model is published, so every use asks for the current one. The consoles'
own contexts (staff, admin, model jobs) sit in layers above this one; they are kept as typed
`parts`, one per class (`services.part(StaffContext)`).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, Optional, Type, TypeVar

from bot.catalog.provider import CatalogProvider
from bot.delivery import Delivery
from bot.handoff.gate import HandoffGate
from bot.handoff.hub import EventHub
from bot.handoff.machine import HandoffService
from bot.pubsub import Bus
from bot.ratelimit import RateLimits
from bot.settings import Settings
from bot.speech.service import SpeechService
from bot.sse import StreamSlots
from bot.store import Database

if TYPE_CHECKING:
    from rasa.core.agent import Agent

Part = TypeVar("Part")


class AgentAccess:
    """The running Rasa agent: None until the first model is loaded; replaced on publish."""

    def __init__(self, get: Callable[[], Optional["Agent"]], put: Callable[["Agent"], None]) -> None:
        self._get, self._put = get, put

    def current(self) -> Optional["Agent"]:
        return self._get()

    def running(self) -> "Agent":
        """The current agent where one must exist (a turn, a console action): an error before the
        first model is loaded, as Rasa's own routes answer then."""
        agent = self._get()
        if agent is None:
            raise RuntimeError("no model is loaded yet")
        return agent

    def replace(self, agent: "Agent") -> None:
        self._put(agent)


class TurnsInFlight:
    """How many residents' turns the agent is handling right now (counted in bot/server.py)."""

    def __init__(self) -> None:
        self.count = 0  # read from the loading thread: an int read is atomic under the GIL

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        self.count += 1
        try:
            yield
        finally:
            self.count -= 1


@dataclass
class Lifecycle:
    """What changes while the process runs: draining on shutdown (/health/ready says 503)."""

    draining: bool = False


@dataclass(frozen=True)
class Services:
    settings: Settings
    catalogs: CatalogProvider
    handoffs: HandoffService
    hub: EventHub
    gate: HandoffGate
    delivery: Delivery
    bus: Bus
    rate_limits: RateLimits
    speech: SpeechService
    agent: AgentAccess
    turns: TurnsInFlight
    sse_slots: StreamSlots
    model_path: Path
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    parts: Dict[type, Any] = field(default_factory=dict)

    @property
    def database(self) -> Database:
        return self.handoffs.db

    def part(self, kind: Type[Part]) -> Part:
        """The console context of class `kind` (LookupError before it was added)."""
        found = self.parts.get(kind)
        if not isinstance(found, kind):
            raise LookupError(f"no {kind.__name__} in this server's services")
        return found

    def part_or(self, kind: Type[Part], build: Callable[[], Part]) -> Part:
        """The context of class `kind`, built the first time it is asked for."""
        if kind not in self.parts:
            self.parts[kind] = build()
        return self.part(kind)

    def has_part(self, kind: type) -> bool:
        return kind in self.parts

    def add(self, part: Any) -> None:
        self.parts[type(part)] = part


def attach(app: Any, services: Services) -> None:
    """Put the services on the app (bot/server.py, once, when the app is built)."""
    app.ctx.services = services


def services_of(app: Any) -> Services:
    """The services of the app a request came to."""
    services = app.ctx.services
    assert isinstance(services, Services)
    return services
