"""Helpers for the model-lifecycle tests: an admin (or staff) client on /admin/api, and a
crowd of residents that keeps talking over REST while the admin trains and publishes."""
from __future__ import annotations

import asyncio
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import httpx

from tests.handoff.conftest import PASSWORD

# One resident's conversation (no handoff request: every turn must be answered by the bot).
SCRIPT = ["こんにちは", "マイナンバーカードをなくしました", "何を持っていけばいい？", "手数料はいくら？",
          "住民票の写しがほしい", "English please", "How much is it?", "ありがとう"]


@dataclass
class ApiUser:
    """A staff or admin session on /admin/api. Over plain HTTP the staff login's cookie is scoped
    to /staff, so the session cookie is sent explicitly (the console's own login sets it for /admin)."""

    client: httpx.Client
    csrf: str

    def get(self, path: str) -> httpx.Response:
        return self.client.get(f"/admin/api{path}")

    def post(self, path: str, body: Optional[Dict[str, Any]] = None, csrf: bool = True) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf} if csrf else {}
        return self.client.post(f"/admin/api{path}", json=body or {}, headers=headers)

    def wait_for_job(self, job_id: str, timeout: float, seen: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(f"/jobs/{job_id}").json()
            if seen is not None:
                seen.append(job)
            if job["state"] in ("done", "failed"):
                return job
            assert time.monotonic() < deadline, f"job {job_id} still {job['state']} after {timeout} s: {job}"
            time.sleep(1)


def api_login(base_url: str, username: str) -> ApiUser:
    login = httpx.Client(base_url=base_url, timeout=60)
    reply = login.post("/staff/api/login", json={"username": username, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    session = next(cookie.value for cookie in login.cookies.jar if cookie.name.endswith("madoguchi_staff"))
    login.close()
    client = httpx.Client(base_url=base_url, timeout=120, headers={"Cookie": f"madoguchi_staff={session}"})
    return ApiUser(client, reply.json()["csrf_token"])


@dataclass
class Turn:
    started: float
    ended: float
    status: int
    messages: int
    error: str = ""


@dataclass
class Crowd:
    """`size` residents talking without pause on a background thread until stop()."""

    base_url: str
    size: int = 20
    turns: List[Turn] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: Optional[threading.Thread] = None

    def start(self) -> "Crowd":
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> List[Turn]:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=300)
        return self.turns

    async def _run(self) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=120) as client:
            await asyncio.gather(*(self._resident(client) for _ in range(self.size)))

    async def _resident(self, client: httpx.AsyncClient) -> None:
        while not self._stop.is_set():
            sender = f"crowd-{uuid.uuid4().hex[:10]}"
            for text in SCRIPT:
                if self._stop.is_set():
                    return
                started = time.monotonic()
                try:
                    reply = await client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
                    count = len(reply.json()) if reply.status_code == 200 else 0
                    self.turns.append(Turn(started, time.monotonic(), reply.status_code, count))
                except Exception as failure:  # a dropped connection is a failed turn, recorded as such
                    self.turns.append(Turn(started, time.monotonic(), 0, 0, repr(failure)))
                await asyncio.sleep(0.2)  # a resident reads the answer before typing again
