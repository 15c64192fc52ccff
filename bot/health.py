"""Public health endpoints for load balancers and Kubernetes probes.

- GET /health        — the model is loaded (kept for existing monitors).
- GET /health/live   — the process answers (liveness: restart me if this fails).
- GET /health/ready  — send me traffic: model loaded, database and Redis reachable, not shutting
                        down. 503 otherwise, naming the failing part (never a secret or URL).

Checks run in worker threads with short timeouts: a hung database must not stall the event loop.
"""
from __future__ import annotations

import asyncio
from typing import Any, Dict, Optional

from sqlalchemy import text

from bot.services import Services, services_of

CHECK_TIMEOUT_SECONDS = 2.0


def model_loaded(services: Services) -> bool:
    agent = services.agent.current()
    return bool(agent is not None and agent.is_ready())


def database_reachable(engine: Any) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def redis_reachable(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=CHECK_TIMEOUT_SECONDS,
                                      socket_connect_timeout=CHECK_TIMEOUT_SECONDS)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


async def within_timeout(check, *args: Any) -> bool:
    try:
        return await asyncio.wait_for(asyncio.to_thread(check, *args), CHECK_TIMEOUT_SECONDS + 1)
    except asyncio.TimeoutError:
        return False


async def readiness(services: Services) -> Dict[str, Optional[bool]]:
    """Each part: True (fine), False (failing) or None (not configured)."""
    settings = services.settings
    checks: Dict[str, Optional[bool]] = {
        "model": model_loaded(services),
        "database": await within_timeout(database_reachable, services.database.engine),
        "redis": await within_timeout(redis_reachable, settings.redis_url) if settings.redis_url else None,
        "accepting": not services.lifecycle.draining,
    }
    return checks


def health_blueprint():
    from sanic import Blueprint, response

    health = Blueprint("madoguchi_health")

    @health.get("/health")
    async def status(request) -> response.HTTPResponse:
        return response.json({"status": "ok", "model_loaded": model_loaded(services_of(request.app))})

    @health.get("/health/live")
    async def live(_request) -> response.HTTPResponse:
        return response.json({"status": "alive"})

    @health.get("/health/ready")
    async def ready(request) -> response.HTTPResponse:
        checks = await readiness(services_of(request.app))
        is_ready = all(value is not False for value in checks.values())
        return response.json({"ready": is_ready, "checks": checks}, status=200 if is_ready else 503)

    return health


def install_draining(app: Any, services: Services) -> None:
    """On shutdown, say "not ready" first, so the balancer stops sending new turns while Sanic
    finishes the ones in flight (its graceful shutdown timeout)."""

    async def drain(_app, _loop) -> None:
        services.lifecycle.draining = True

    app.register_listener(drain, "before_server_stop")
