"""Shared fixtures: one trained model and one real server per test session.

Training is cached by catalog fingerprint in models/, so a second `make test` reuses it.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import httpx
import pytest

from bot.settings import PROJECT_ROOT, Settings

API_TOKEN = "test-token-madoguchi"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    var_dir = tmp_path_factory.mktemp("var")
    port = free_port()
    env = dict(os.environ, MADOGUCHI_PORT=str(port), MADOGUCHI_VAR=str(var_dir), MADOGUCHI_API_TOKEN=API_TOKEN,
               RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("MADOGUCHI_DATABASE_URL", None)
    log_path = var_dir / "server.log"
    log = open(log_path, "w")
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], cwd=PROJECT_ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{log_path.read_text()[-4000:]}")
            try:
                status = httpx.get(f"{base_url}/status", params={"token": API_TOKEN}, timeout=5)
                if status.status_code == 200 and status.json().get("model_file"):
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not become ready:\n{log_path.read_text()[-4000:]}")
            time.sleep(1)
        yield Server(base_url, API_TOKEN, var_dir, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def texts(messages: List[Dict[str, Any]]) -> str:
    """All reply texts of one turn, joined (for assertions)."""
    return "\n".join(m.get("text") or "" for m in messages)


def buttons(messages: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    return [b for m in messages for b in (m.get("buttons") or [])]
