"""Shared fixtures: one trained model and one real server per test session.

Training is cached by catalog fingerprint in models/, so a second `make test` reuses it.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import httpx
import pytest

from bot.settings import Settings
from channels.inbound import namespace_of, namespaced_sender
from tests.devserver import running_server

API_TOKEN = "test-token-madoguchi"
# The `closed_server` is configured as on a public address (see its docstring).
REST_TOKEN = "rest-token-madoguchi"
CITY_ORIGIN = "https://www.city.sample.lg.jp"
CLOSED_TELEGRAM_TOKEN = "123456789:TEST-madoguchi-closed-server"
CLOSED_TELEGRAM_SECRET = "madoguchi_closed-server-secret"
CLOSED_LINE_SECRET = "closed-server-line-channel-secret"
CLOSED_LINE_ACCESS_TOKEN = "closed-server-line-access-token"
# The test server lives on the 2nd Saturday of November 2026, 09:05 in Japan: 市民課 is open
# (Saturday morning hours) while the other counters are closed, so one server shows both the
# staffed path and the after-hours path whatever the real time is. The clock runs from there.
FAKE_NOW = "2026-11-14T09:05:00+09:00"
REDIS_URL = "redis://127.0.0.1:6379/0"  # started on this machine kind before each session (and in CI)
os.environ["MADOGUCHI_FAKE_NOW"] = FAKE_NOW
# Test servers do not speak the whole catalog in the background (two cores, many servers):
# a server that needs it (the phone's, tests/channels/test_voice.py) turns it back on.
os.environ["MADOGUCHI_TTS_PRESYNTHESIS"] = "off"


# What makes a test slow (`pytest -m "not slow"` leaves these out; docs/testing.md): a trained
# model (every server fixture depends on `trained_model`), a server process, a browser, the
# cluster or the fuzzers. Marked here, from the fixtures a test uses and where it lives, so a
# new test that asks for a server is slow without anyone remembering to say so.
SLOW_FIXTURES = {"trained_model", "browser_ready"}
SLOW_FOLDERS = {"cluster", "fuzz"}


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        folder = Path(str(item.fspath)).relative_to(Path(__file__).parent).parts[0]
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or folder in SLOW_FOLDERS:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env()


@pytest.fixture(scope="session")
def trained_model(settings: Settings) -> Path:
    from bot.training import ensure_model

    return ensure_model(settings, print_fn=lambda line: print(line, file=sys.stderr))


@dataclass
class Server:
    base_url: str
    token: str
    var_dir: Path
    process: subprocess.Popen

    def say(self, sender: str, text: str, metadata: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
        body: Dict[str, Any] = {"sender": sender, "message": text}
        if metadata is not None:
            body["metadata"] = metadata
        reply = httpx.post(f"{self.base_url}/webhooks/rest/webhook", json=body, timeout=60)
        reply.raise_for_status()
        return reply.json()

    def parse(self, text: str) -> Dict[str, Any]:
        reply = httpx.post(f"{self.base_url}/model/parse", params={"token": self.token},
                           json={"text": text}, timeout=60)
        reply.raise_for_status()
        return reply.json()

    def tracker(self, sender: str) -> Dict[str, Any]:
        """The tracker of a conversation: a bare id is the one `say(sender, …)` wrote to
        (`rest:<sender>`); an id in another channel's namespace (`web:…`) is read as it is."""
        conversation_id = sender if namespace_of(sender) not in (None, "rest") else rest_id(sender)
        reply = httpx.get(f"{self.base_url}/conversations/{conversation_id}/tracker", params={"token": self.token},
                          timeout=60)
        reply.raise_for_status()
        return reply.json()


@pytest.fixture(scope="session")
def server(trained_model: Path, tmp_path_factory) -> Server:
    """`madoguchi serve` as a real process on a free port, with its own SQLite database."""
    # The machine's Redis holds the conversation locks (bot/store/lock_store.py), as in a cluster.
    env = {"MADOGUCHI_FAKE_NOW": FAKE_NOW, "MADOGUCHI_REDIS_URL": REDIS_URL}
    with running_server(tmp_path_factory.mktemp("var"), API_TOKEN, env) as running:
        yield Server(running.base_url, running.token, running.var_dir, running.process)


@dataclass
class ClosedServer:
    """A server as deployed on a public address, with the fake Bot API its Telegram channel talks to."""

    base_url: str
    var_dir: Path
    telegram: Any  # tests.channels.fake_telegram.FakeBotApi
    line: Any  # tests.channels.fake_line.FakeLineApi

    @property
    def database(self) -> Path:
        return self.var_dir / "madoguchi.db"

    def say(self, sender: Any, text: str, token: Optional[str] = REST_TOKEN, **kwargs: Any) -> httpx.Response:
        """One REST message with the REST token as a Bearer header (or none); the raw response."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(f"{self.base_url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                          headers={**headers, **kwargs.pop("headers", {})}, timeout=60, **kwargs)


@pytest.fixture(scope="session")
def closed_server(trained_model: Path, tmp_path_factory) -> ClosedServer:
    """`madoguchi serve` as on a public address: no MADOGUCHI_API_TOKEN (Rasa's API is not mounted),
    a REST token, one allowed CORS origin, and Telegram and LINE on against local fake platform APIs."""
    from tests.channels.fake_line import FakeLineApi
    from tests.channels.fake_telegram import FakeBotApi

    telegram = FakeBotApi(CLOSED_TELEGRAM_TOKEN).start()
    line = FakeLineApi(CLOSED_LINE_ACCESS_TOKEN).start()
    extra = {"MADOGUCHI_FAKE_NOW": FAKE_NOW, "MADOGUCHI_REST_TOKEN": REST_TOKEN,
             "MADOGUCHI_ALLOWED_ORIGINS": CITY_ORIGIN, "MADOGUCHI_TELEGRAM_TOKEN": CLOSED_TELEGRAM_TOKEN,
             "MADOGUCHI_TELEGRAM_SECRET": CLOSED_TELEGRAM_SECRET, "MADOGUCHI_TELEGRAM_API_URL": telegram.url,
             "MADOGUCHI_LINE_CHANNEL_SECRET": CLOSED_LINE_SECRET,
             "MADOGUCHI_LINE_ACCESS_TOKEN": CLOSED_LINE_ACCESS_TOKEN, "MADOGUCHI_LINE_API_URL": line.url}
    try:
        with running_server(tmp_path_factory.mktemp("closed-var"), "", extra) as running:
            yield ClosedServer(running.base_url, running.var_dir, telegram, line)
    finally:
        telegram.stop()
        line.stop()


def rest_id(sender: str) -> str:
    """The conversation id the REST channel uses for `sender` (`me` → `rest:me`)."""
    return namespaced_sender("rest", sender)


def texts(messages: List[Dict[str, Any]]) -> str:
    """All reply texts of one turn, joined (for assertions)."""
    return "\n".join(m.get("text") or "" for m in messages)


def buttons(messages: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    return [b for m in messages for b in (m.get("buttons") or [])]
