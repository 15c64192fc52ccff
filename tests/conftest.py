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

from bot.devserver import running_server
from bot.settings import Settings

API_TOKEN = "test-token-madoguchi"
# The test server lives on the 2nd Saturday of November 2026, 09:05 in Japan: 市民課 is open
# (Saturday morning hours) while the other counters are closed, so one server shows both the
# staffed path and the after-hours path whatever the real time is. The clock runs from there.
FAKE_NOW = "2026-11-14T09:05:00+09:00"
os.environ["MADOGUCHI_FAKE_NOW"] = FAKE_NOW


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
        reply = httpx.get(f"{self.base_url}/conversations/{sender}/tracker", params={"token": self.token}, timeout=60)
        reply.raise_for_status()
        return reply.json()


@pytest.fixture(scope="session")
def server(trained_model: Path, tmp_path_factory) -> Server:
    """`madoguchi serve` as a real process on a free port, with its own SQLite database."""
    with running_server(tmp_path_factory.mktemp("var"), API_TOKEN, {"MADOGUCHI_FAKE_NOW": FAKE_NOW}) as running:
        yield Server(running.base_url, running.token, running.var_dir, running.process)


def texts(messages: List[Dict[str, Any]]) -> str:
    """All reply texts of one turn, joined (for assertions)."""
    return "\n".join(m.get("text") or "" for m in messages)


def buttons(messages: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    return [b for m in messages for b in (m.get("buttons") or [])]
