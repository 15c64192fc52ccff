"""Health probes: liveness, and readiness that names the failing part (real database and Redis)."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import httpx
from sqlalchemy import create_engine

from bot.health import readiness
from bot.settings import Settings


def test_the_running_server_is_live_and_ready(server):
    assert httpx.get(f"{server.base_url}/health/live", timeout=30).json() == {"status": "alive"}
    ready = httpx.get(f"{server.base_url}/health/ready", timeout=30)
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "checks": {"model": True, "database": True, "redis": True,
                                                      "accepting": True}}


def app_with(database_url: str, redis_url: str, draining: bool = False) -> SimpleNamespace:
    """Just the services readiness reads, on real engines (a model-less server: model is False)."""
    engine = create_engine(database_url, future=True)
    return SimpleNamespace(settings=Settings(redis_url=redis_url), agent=SimpleNamespace(current=lambda: None),
                           database=SimpleNamespace(engine=engine), lifecycle=SimpleNamespace(draining=draining))


def test_readiness_names_an_unreachable_database_and_redis():
    app = app_with("postgresql://nobody@127.0.0.1:1/none", "redis://127.0.0.1:1/0")
    checks = asyncio.run(readiness(app))
    assert checks == {"model": False, "database": False, "redis": False, "accepting": True}


def test_readiness_with_reachable_parts_and_no_redis_configured(tmp_path):
    app = app_with(f"sqlite:///{tmp_path / 'ok.db'}", "")
    checks = asyncio.run(readiness(app))
    assert checks["database"] is True and checks["redis"] is None


def test_a_draining_server_is_not_ready(tmp_path):
    app = app_with(f"sqlite:///{tmp_path / 'ok.db'}", "redis://127.0.0.1:6379/0", draining=True)
    checks = asyncio.run(readiness(app))
    assert checks["accepting"] is False and checks["redis"] is True
