"""Start `madoguchi serve` as a child process on a free port (tests and benchmarks).

A real server over real HTTP: the same process `make run` starts, with its own
var/ directory so runs never share a database.
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, Optional

import httpx

from bot.settings import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    base_url: str
    token: str
    var_dir: Path
    process: subprocess.Popen
    log_path: Path


@contextlib.contextmanager
def running_server(var_dir: Path, token: str, extra_env: Optional[Dict[str, str]] = None,
                   ready_timeout: float = 300) -> Iterator[RunningServer]:
    var_dir = Path(var_dir)
    var_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = dict(os.environ, MADOGUCHI_PORT=str(port), MADOGUCHI_VAR=str(var_dir), MADOGUCHI_API_TOKEN=token,
               RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("MADOGUCHI_DATABASE_URL", None)
    env.update(extra_env or {})
    log_path = var_dir / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], cwd=PROJECT_ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        server = RunningServer(f"http://127.0.0.1:{port}", token, var_dir, process, log_path)
        try:
            wait_until_ready(server, ready_timeout)
            yield server
        finally:
            stop_process(process)


def stop_process(process: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM (a server finishes its turns in flight), then SIGKILL after `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_until_ready(server: RunningServer, timeout: float) -> None:
    """Wait until the model is loaded (the public /health check; works with or without an API token)."""
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log_path.read_text()[-4000:]}")
        try:
            status = httpx.get(f"{server.base_url}/health", timeout=5)
            if status.status_code == 200 and status.json().get("model_loaded"):
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"server did not become ready:\n{server.log_path.read_text()[-4000:]}")
        time.sleep(1)
