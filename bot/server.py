"""Assemble the one server: Rasa HTTP API + channels + in-process actions + SQL tracker store.

Mirrors `rasa.core.run.serve_application`, so `madoguchi serve` behaves like `rasa run`
with our channels, our tracker store settings and our own pages added to the same app.
Closed by default: Rasa's HTTP API exists only with MADOGUCHI_API_TOKEN, CORS only for
MADOGUCHI_ALLOWED_ORIGINS, request bodies capped at MADOGUCHI_MAX_BODY_BYTES.
"""
from __future__ import annotations

import logging
import os
from functools import partial
from pathlib import Path
from typing import List, Optional

from bot.errors import error_response
from bot.settings import Settings

logger = logging.getLogger(__name__)


# Rasa's SQL tracker store with its queries in a worker thread (bot/store/tracker_store.py).
TRACKER_STORE_TYPE = "bot.store.tracker_store.ThreadedSQLTrackerStore"


class ServeRefused(RuntimeError):
    """`madoguchi serve` would be unsafe with these settings; the message says what to change."""


def check_listen_address(settings: Settings) -> None:
    """Refuse a non-loopback address without an API token (closed by default, even if misconfigured)."""
    from bot.access import is_loopback

    if not settings.api_token and not is_loopback(settings.host):
        raise ServeRefused(
            f"refusing to listen on {settings.host!r} without MADOGUCHI_API_TOKEN: set a long random token "
            f"(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`) or listen on 127.0.0.1")


def tracker_store_endpoint(settings: Settings):
    """The SQL tracker store on SQLite (var/) by default, any SQLAlchemy URL otherwise."""
    from rasa.utils.endpoints import EndpointConfig

    url = settings.tracker_database_url
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        return EndpointConfig(type=TRACKER_STORE_TYPE, dialect="sqlite", db=str(path))
    # Rasa hands an endpoint URL to SQLTrackerStore as `host`, and a host that is a full
    # URL goes straight to SQLAlchemy.
    return EndpointConfig(url=url, type=TRACKER_STORE_TYPE, db="")


def lock_store_endpoint(settings: Settings):
    """Our atomic Redis ticket lock when a Redis URL is set (see bot/store/lock_store.py), else Rasa's in-memory one."""
    if not settings.redis_url:
        return None
    from rasa.utils.endpoints import EndpointConfig

    return EndpointConfig(type="bot.store.lock_store.AtomicRedisLockStore", url=settings.redis_url)


def input_channels(settings: Settings) -> List:
    """The channels of bot/senders.py that the settings turn on, built, in the list's order."""
    from bot import senders

    return [spec.build(settings) for spec in senders.CHANNELS if spec.enabled(settings)]


def build_app(settings: Settings, model_path: Path):
    """The Sanic app `madoguchi serve` runs; the agent loads before the server starts."""
    from rasa.core.run import close_resources, configure_app, load_agent_on_start
    from rasa.core.utils import AvailableEndpoints

    from bot.access import rasa_api_guard, rasa_api_routes
    from bot.actions import ActionMadoguchi
    from bot.actions.inprocess import InProcessActionEndpoint
    from bot.admin import admin_blueprints
    from bot.catalog.provider import CatalogProvider
    from bot.cors import install_cors
    from bot.delivery import Delivery
    from bot.handoff.gate import HandoffGate
    from bot.handoff.hub import EventHub
    from bot.handoff.runtime import service_for
    from bot.health import health_blueprint, install_draining
    from bot.privacy import install_retention
    from bot.ratelimit import install_rate_limits
    from bot.services import AgentAccess, Services, TurnsInFlight, attach
    from bot.speech import install_speech
    from bot.sse import StreamSlots
    from bot.staff.context import StaffContext

    # One catalog provider and one handoff service for the whole process: the action, the
    # gate, the staff console and the channels all read the same ones (the services below).
    catalogs = CatalogProvider(settings.catalog_dir)
    handoffs = service_for(settings.tracker_database_url, settings.callback_ttl_seconds)
    dialogue = ActionMadoguchi(catalogs, handoffs)
    endpoints = AvailableEndpoints(
        action=InProcessActionEndpoint([dialogue]),
        tracker_store=tracker_store_endpoint(settings),
        lock_store=lock_store_endpoint(settings),
    )
    channels = input_channels(settings)
    app = configure_app(
        None,  # channels are registered below, behind the handoff gate
        cors=None,  # Rasa's sanic_cors gets no origins: bot.cors decides every CORS header
        auth_token=settings.api_token or None,
        enable_api=bool(settings.api_token),  # no token: Rasa's HTTP API is not mounted at all (404)
        port=settings.port,
        endpoints=endpoints,
    )
    if settings.api_token:  # taken before our routes join, so only Rasa's own routes are guarded
        app.register_middleware(rasa_api_guard(rasa_api_routes(app), settings.api_token), "request")
    install_body_limit(app, settings.max_body_bytes)
    install_error_shape(app)
    rate_limits = install_rate_limits(app, settings, catalogs)  # the gate's, and 429 per address on REST/web
    if settings.trusted_proxies:  # else X-Forwarded-For is ignored: a client could name any address
        app.config.PROXIES_COUNT = settings.trusted_proxies
    install_cors(app, settings.allowed_origins)
    bus = install_bus(app, settings, channels)
    delivery = Delivery(channels, bus)
    # Rasa loads the agent into app.ctx.agent (and its PUT /model replaces it there): everyone
    # else asks the accessor for the current one.
    agent = AgentAccess(lambda: getattr(app.ctx, "agent", None), partial(setattr, app.ctx, "agent"))
    hub = EventHub(bus)
    gate = HandoffGate(handoffs, hub, catalogs, agent.current, rate_limits, delivery)
    turns = TurnsInFlight()
    register_channels(app, channels, gate, agent, turns)
    blueprints = [health_blueprint()] + extra_blueprints(settings) + staff_blueprints()
    for blueprint in blueprints + admin_blueprints() + model_blueprints():
        app.blueprint(blueprint)
    app.register_listener(partial(load_agent_on_start, str(model_path), endpoints, None), "before_server_start")

    async def know_the_catalog(_app, _loop) -> None:
        # The FAQ, the procedures' phrasings and the sections (≈5 s of tagging) are ready
        # before the first resident's turn, not built during it.
        await dialogue.sources.knowledge(await catalogs.current())

    app.register_listener(know_the_catalog, "before_server_start")
    speech = install_speech(app, settings, catalogs)  # GET /audio/<hash>.<ext>, catalog pre-synthesis
    services = Services(settings=settings, catalogs=catalogs, handoffs=handoffs, hub=hub, gate=gate,
                        delivery=delivery, bus=bus, rate_limits=rate_limits, speech=speech, agent=agent,
                        turns=turns, sse_slots=StreamSlots(settings.max_sse_streams),
                        model_path=Path(model_path))  # registered at start (bot/admin/models_api.py)
    services.add(StaffContext(services))
    attach(app, services)
    # channels/voice.py still reads these from app.ctx; it moves onto the services with the phone's issue.
    app.ctx.catalogs, app.ctx.speech, app.ctx.staff = catalogs, speech, services.part(StaffContext)
    install_retention(app, services, settings.retention_days)  # daily purge (MADOGUCHI_RETENTION_DAYS)
    install_draining(app, services)  # /health/ready says 503 while in-flight turns finish
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = settings.graceful_shutdown_seconds  # Sanic waits this long for them
    app.register_listener(close_resources, "after_server_stop")
    return app


def install_body_limit(app, max_bytes: int) -> None:
    """Bodies over `max_bytes` get 413 with a JSON error on every route (Sanic's default is 100 MB).

    Sanic checks Content-Length (and counts chunked bodies) before any handler runs, so an
    oversized request never reaches a channel, Rasa or the database.
    """
    from sanic import response
    from sanic.exceptions import PayloadTooLarge

    app.config.REQUEST_MAX_SIZE = max_bytes

    async def too_large(request, _error) -> response.HTTPResponse:
        from bot.services import services_of

        catalog = await services_of(request.app).catalogs.current()
        return error_response(413, "body_too_large",
                              catalog.bilingual("notice_body_too_large", " ", max_bytes=str(max_bytes)))

    app.exception(PayloadTooLarge)(too_large)


def install_error_shape(app) -> None:
    """Sanic's own 404 (no such route, or a path parameter of the wrong type) and 405 answer in the one
    error shape, `{"error": code, "message": text}` as JSON, like every route of ours (not Sanic's HTML page);
    an unreadable Cookie header is no cookie, never a 500."""
    from http.cookies import CookieError

    from sanic import response
    from sanic.exceptions import MethodNotSupported, NotFound

    async def not_found(request, _error) -> response.HTTPResponse:
        return error_response(404, "not_found", f"There is nothing at {request.path}.")

    async def wrong_method(request, error) -> response.HTTPResponse:
        return error_response(405, "method_not_allowed", f"{request.method} is not allowed on {request.path}.",
                              headers=getattr(error, "headers", None) or {})

    async def ignore_unreadable_cookies(request) -> None:
        # The standard library refuses some Cookie headers outright (`request.cookies` raises, a 500 on every
        # route that reads a cookie): such a request counts as one without cookies (no session, a new visitor).
        try:
            _ = request.cookies
        except CookieError:
            request._cookies = {}

    app.exception(NotFound)(not_found)
    app.exception(MethodNotSupported)(wrong_method)
    app.register_middleware(ignore_unreadable_cookies, "request")


def register_channels(app, channels: List, gate, agent, turns) -> None:
    """As `rasa.core.channels.channel.register`, with every message passing the handoff gate.

    The handler asks for the current agent on each message, so a model loaded later through
    Rasa's API or the admin console still sits behind the gate. Turns are counted from the gate
    on, so a model loading beside gives way to them (bot/admin/model_swap.py).
    """

    async def handle(message) -> None:
        await agent.running().handle_message(message)

    gated = gate.wrap(handle)

    async def through_gate(message):
        with turns.counting():  # the gate's reads and writes are part of the turn too
            return await gated(message)

    for channel in channels:
        app.blueprint(channel.blueprint(through_gate), url_prefix=f"/webhooks/{channel.url_prefix()}")
    app.ctx.input_channels = channels  # Rasa's own routes read it (output_channel=latest)


def install_bus(app, settings: Settings, channels: List):
    """Live events (staff consoles, page pushes) between replicas: Redis pub/sub when
    MADOGUCHI_REDIS_URL is set, else in this process (bot/pubsub.py). After a Redis outage the
    web pages' streams are ended, so each browser reconnects and fetches what it missed."""
    from bot.pubsub import bus_for

    bus = bus_for(settings.redis_url, settings.tracker_database_url)
    for channel in channels:
        close_all = getattr(getattr(channel, "streams", None), "close_all", None)
        if close_all is not None:
            bus.on_reconnect(close_all)

    async def start(_app, _loop) -> None:
        await bus.start()

    async def stop(_app, _loop) -> None:
        await bus.stop()

    app.register_listener(start, "before_server_start")
    app.register_listener(stop, "after_server_stop")
    return bus


def staff_blueprints() -> List:
    from bot.staff.api import staff_blueprint
    from bot.staff.page import staff_page_blueprint

    return [staff_blueprint(), staff_page_blueprint()]


def model_blueprints() -> List:
    """The admin model API (train, evaluate, publish, roll back) and the public open data."""
    from bot.admin.models_api import admin_models_blueprint
    from bot.admin.opendata import opendata_blueprint

    return [admin_models_blueprint(), opendata_blueprint()]


def published_model(settings: Settings) -> Optional[Path]:
    """The model an administrator published last (`catalog publish`, the console), if its file exists."""
    from bot.admin.models import ModelRegistry
    from bot.store import Database

    db = Database(settings.tracker_database_url)
    db.create_tables()
    model = ModelRegistry(db).published()
    return model.path if model else None


def extra_blueprints(settings: Settings) -> List:
    """Our own pages and APIs beside Rasa's (web chat page, staff and admin consoles)."""
    from channels.web import root_page_blueprint

    # The web channel lives at /webhooks/web/; this also puts its page at `/` (in place
    # of Rasa's "Hello from Rasa", see root_page_blueprint for how).
    return [root_page_blueprint()]


def configure_logging(level_name: str, settings: Optional[Settings] = None) -> None:
    """Rasa's own logging set-up (as `rasa run --log-level`), so its debug traces stay quiet;
    then the mask that keeps secrets and personal numbers out of every line."""
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    from bot import logmask

    level = getattr(logging, level_name.upper(), logging.INFO)
    configure_logging_and_warnings(level)
    configure_structlog(level)
    logmask.install(logmask.configured_secrets(settings or Settings.from_env()))


def serve(settings: Optional[Settings] = None, model_path: Optional[Path] = None) -> None:
    import rasa.utils.common

    from bot.training import ensure_model

    settings = settings or Settings.from_env()
    check_listen_address(settings)
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    configure_logging(os.environ.get("MADOGUCHI_LOG_LEVEL", "INFO"), settings)
    if not settings.api_token:
        logger.info("MADOGUCHI_API_TOKEN is not set: Rasa's HTTP API is not mounted.")
    # The published model if there is one (an admin's choice outlives a restart), else the
    # model of the catalog as it is, trained if needed.
    model_path = model_path or published_model(settings) or ensure_model(settings)
    app = build_app(settings, model_path)
    rasa.utils.common.update_sanic_log_level()
    print(f"madoguchi serving on http://{settings.host}:{settings.port}/ (model {Path(model_path).name})", flush=True)
    app.run(host=settings.host, port=settings.port, workers=1, access_log=False)
