"""Two replicas on one PostgreSQL database and one Redis: live events cross between them.

A resident's page stream is held by replica B while the clerk works on replica A: the clerk
sees the request in A's live staff stream, claims and replies, and the reply arrives on the
page's stream on B; handing back works the same way. A phone call whose Twilio webhooks
alternate between the replicas hears a clerk's reply made on A at its next turn on B.
Everything is real: two `madoguchi serve` processes over HTTP, a fresh PostgreSQL database
(created here, dropped after) and the machine's Redis.
"""
from __future__ import annotations

import asyncio
import json
import os
import queue
import subprocess
import sys
import threading
import uuid
from contextlib import ExitStack
from typing import Any, Dict, Iterator, List, Tuple
from urllib.parse import quote

import httpx
import pytest

from bot.catalog import load_catalog
from bot.handoff.hub import TOPIC as HUB_TOPIC
from bot.handoff.hub import EventHub
from bot.pubsub import RedisBus
from bot.settings import PROJECT_ROOT, Settings
from bot.speech import SpeechService
from tests.channels.fake_twilio import FakeTwilioApi
from tests.channels.test_voice import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL, SMS_FROM, Caller, prompt, url_of, web_slip
from tests.conftest import API_TOKEN, FAKE_NOW, REDIS_URL
from tests.devserver import RunningServer, running_server
from tests.handoff.conftest import PASSWORD, Clerk
from tests.web.resident import WebResident

POSTGRES = "postgresql://postgres@127.0.0.1:5432"
CATALOG = load_catalog(PROJECT_ROOT / "intents")


def psql(command: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1",
                    "-c", command], check=True, capture_output=True)


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    name = f"madoguchi_cluster_{uuid.uuid4().hex[:8]}"
    psql(f"create database {name}")
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        psql(f"drop database if exists {name} with (force)")


@pytest.fixture(scope="module")
def twilio_api() -> Iterator[FakeTwilioApi]:
    api = FakeTwilioApi(ACCOUNT_SID, AUTH_TOKEN).start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def replicas(trained_model, database: str, twilio_api: FakeTwilioApi,
             tmp_path_factory) -> Iterator[Tuple[RunningServer, RunningServer]]:
    """Replica A and replica B: one database, one Redis, each its own port and var/ (speech cache, logs)."""
    extra = {"MADOGUCHI_FAKE_NOW": FAKE_NOW, "MADOGUCHI_REDIS_URL": REDIS_URL, "MADOGUCHI_DATABASE_URL": database,
             "MADOGUCHI_TWILIO_AUTH_TOKEN": AUTH_TOKEN, "MADOGUCHI_PUBLIC_URL": PUBLIC_URL,
             "MADOGUCHI_TWILIO_ACCOUNT_SID": ACCOUNT_SID, "MADOGUCHI_TWILIO_FROM": SMS_FROM,
             "MADOGUCHI_TWILIO_API_URL": twilio_api.url, "MADOGUCHI_TTS": "openjtalk"}
    with ExitStack() as stack:  # one after the other: the first creates the tables
        a = stack.enter_context(running_server(tmp_path_factory.mktemp("replica-a"), API_TOKEN, extra))
        b = stack.enter_context(running_server(tmp_path_factory.mktemp("replica-b"), API_TOKEN, extra))
        yield a, b


def add_clerk(server: RunningServer, database: str, display_name: str, section: str) -> str:
    """An account made with the real CLI, in the database both replicas share."""
    username = f"clerk{uuid.uuid4().hex[:6]}"
    env = dict(os.environ, MADOGUCHI_VAR=str(server.var_dir), MADOGUCHI_DATABASE_URL=database)
    result = subprocess.run([sys.executable, "-m", "bot.cli", "staff", "add", "--username", username, "--role",
                             "staff", "--display-name", display_name, "--password-stdin", "--section", section],
                            input=PASSWORD + "\n", capture_output=True, text=True, cwd=PROJECT_ROOT, env=env)
    assert result.returncode == 0, result.stderr
    return username


def login(server: RunningServer, username: str) -> Clerk:
    client = httpx.Client(base_url=server.base_url, timeout=60)
    reply = client.post("/staff/api/login", json={"username": username, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return Clerk(client, reply.json()["csrf_token"], username)


class Events:
    """An SSE stream read in a thread: (event name, data) pairs, parsed as JSON."""

    def __init__(self, url: str, headers: Dict[str, str], opened: str) -> None:
        self.received: "queue.Queue[Tuple[str, Any]]" = queue.Queue()
        self._opened = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(60, read=None), headers=headers)
        threading.Thread(target=self._read, args=(url, opened), daemon=True).start()
        assert self._opened.wait(30), "stream did not open"

    def _read(self, url: str, opened: str) -> None:
        try:
            with self._client.stream("GET", url) as response:
                event, data = "message", []
                for line in response.iter_lines():
                    if line.startswith(opened):
                        self._opened.set()
                    if line.startswith("event:"):
                        event = line.split(":", 1)[1].strip()
                    elif line.startswith("data:"):
                        data.append(line.split(":", 1)[1].strip())
                    elif line == "" and data:
                        self.received.put((event, json.loads("\n".join(data))))
                        event, data = "message", []
        except httpx.HTTPError:
            pass  # closed

    def wait_for(self, predicate, timeout: float = 30) -> Any:
        while True:
            name, data = self.received.get(timeout=timeout)
            if predicate(name, data):
                return data

    def close(self) -> None:
        self._client.close()


def page_stream(server: RunningServer, resident: WebResident) -> Events:
    from channels.web import COOKIE_NAME

    return Events(f"{server.base_url}/webhooks/web/events", {"Cookie": f"{COOKIE_NAME}={resident.secret}"},
                  "event: ready")


def staff_stream(server: RunningServer, clerk: Clerk) -> Events:
    cookies = "; ".join(f"{name}={value}" for name, value in clerk.client.cookies.items())
    return Events(f"{server.base_url}/staff/api/events", {"Cookie": cookies}, ": connected")


def page_texts(data: Dict[str, Any]) -> List[str]:
    return [m.get("text") or "" for m in data.get("messages", []) + data.get("transient", [])]


def test_a_handoff_whose_resident_and_clerk_sit_on_different_replicas(replicas, database):
    a, b = replicas
    clerk = login(a, add_clerk(a, database, "山田", "shimin"))
    console = staff_stream(a, clerk)
    resident = WebResident(b.base_url)
    page = page_stream(b, resident)
    sender = resident.conversation_id
    path = f"/conversations/{quote(sender, safe='')}"
    try:
        resident.say("マイナンバーカードを受け取りたい")
        resident.say("人と話したい")
        # Queued on B; A's console hears of it live, and A's queue (the shared database) lists it.
        console.wait_for(lambda name, data: name == "queue_changed" and data.get("conversation_id") == sender)
        assert sender in [entry["conversation_id"] for entry in clerk.get("/queue").json()["queue"]]
        resident.say("急いでいます")  # a message while waiting: A's console gets it as it is said
        console.wait_for(lambda name, data: name == "message" and data.get("conversation_id") == sender
                         and data.get("text") == "急いでいます")

        assert clerk.post(f"{path}/claim").status_code == 200
        page.wait_for(lambda name, data: name == "messages" and any("山田" in t for t in page_texts(data)))
        words = "市民課の山田です。交付通知書はお手元にありますか。"
        assert clerk.post(f"{path}/messages", {"text": words}).json()["delivered"] is True
        live = page.wait_for(lambda name, data: name == "messages" and words in page_texts(data))
        staff_message = next(m for m in live["messages"] if m.get("text") == words)
        assert staff_message["role"] == "staff" and staff_message["staff"]["name"] == "山田"

        assert clerk.post(f"{path}/handback").status_code == 200
        handback = CATALOG.phrases["staff_handback"].ja
        page.wait_for(lambda name, data: name == "messages" and handback in page_texts(data))
        answer = resident.say("何を持っていけばいい？")  # the bot answers again, on B
        assert any("持ち物" in (m.get("text") or "") for m in answer["messages"])
    finally:
        page.close()
        console.close()


def test_tabs_of_one_conversation_on_different_replicas_stay_in_step(replicas):
    """One resident, a tab whose stream is on A, messages posted through B: the tab on A shows
    them; deleting the conversation on B clears and closes the tab on A."""
    a, b = replicas
    resident = WebResident(b.base_url)
    tab = page_stream(a, resident)
    try:
        resident.say("住民票の写しがほしい")  # on B
        shown = tab.wait_for(lambda name, data: name == "messages"
                             and "住民票の写しがほしい" in [m.get("text") for m in data["messages"]])
        assert any(m["role"] == "bot" for m in shown["messages"])
        assert resident.post("/delete", {}).status_code == 200  # on B
        tab.wait_for(lambda name, data: name == "reset")
    finally:
        tab.close()


def test_a_call_whose_webhooks_alternate_between_replicas_hears_a_clerks_reply(replicas, database, twilio_api):
    a, b = replicas
    clerk = login(a, add_clerk(a, database, "鈴木", "shimin"))
    caller = Caller(a)
    caller.start()  # on A
    caller.server = b
    answer = caller.say("住民票の写しがほしい")  # on B: the call's state came from Redis
    caller.server = a
    again = caller.press("9")  # on A: the answer B gave is repeated (what the call last said is shared)
    assert again.plays == answer.plays and len(answer.plays) >= 2
    caller.server = b
    sms_before = len(twilio_api.messages)
    caller.press("2")  # on B: the checklist by SMS, and consent to staff messages by SMS
    assert [m["To"] for m in twilio_api.messages[sms_before:]] == [caller.number]

    path = f"/conversations/{quote(caller.sender, safe='')}"
    assert clerk.post(f"{path}/pull").status_code == 200
    words = "本日は12時まで市民課の窓口で受け付けています。"
    assert clerk.post(f"{path}/messages", {"text": words}).json()["delivered"] is True
    heard = caller.silence()  # on B: the reply made on A is played first
    speech = SpeechService(Settings(var_dir=b.var_dir, tts="openjtalk"), b.var_dir / "speech")
    assert url_of(speech, words) in heard.plays
    caller.server = a
    assert url_of(speech, words) not in caller.silence().plays  # played once, whichever replica answers

    # The call ends on B (the consent given on B is known there); a clerk's later reply on A goes by SMS.
    caller.server = b
    assert caller.post("/webhooks/voice/status", caller.form(CallStatus="completed")).status_code == 204
    sms_before = len(twilio_api.messages)
    later = "ほかにご不明な点があればお電話ください。"
    assert clerk.post(f"{path}/messages", {"text": later}).json()["delivered"] is True
    assert [(m["To"], m["Body"]) for m in twilio_api.messages[sms_before:]] == [(caller.number, later)]


class CuttableProxy:
    """A TCP proxy in front of Redis that can drop every connection (Redis "going away") and
    refuse new ones until mended, without touching the machine's Redis itself."""

    def __init__(self, target_port: int = 6379) -> None:
        self.target_port = target_port
        self.is_cut = False
        self._writers: List[asyncio.StreamWriter] = []
        self._server: Any = None
        self.port = 0

    async def start(self) -> "CuttableProxy":
        self._server = await asyncio.start_server(self._connect, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.is_cut:
            writer.close()
            return
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, upstream_writer]
        await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while not reader.at_eof():
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    def cut(self) -> None:
        self.is_cut = True
        for writer in self._writers:
            writer.close()
        self._writers = []

    def mend(self) -> None:
        self.is_cut = False

    async def stop(self) -> None:
        self.cut()
        self._server.close()
        await self._server.wait_closed()


async def until(condition, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def test_the_bus_reconnects_after_redis_drops_and_live_views_reload():
    """Redis drops under one replica: its listener reconnects with backoff, every open console
    is told to reload (events published meanwhile may be lost), and events flow both ways again."""
    async def scenario() -> None:
        proxy = await CuttableProxy().start()
        prefix = f"madoguchi:test-{uuid.uuid4().hex[:8]}"
        replica = RedisBus(f"redis://127.0.0.1:{proxy.port}/0", prefix, backoff=(0.05, 0.1, 0.2))
        other = RedisBus(REDIS_URL, prefix)  # the other replica, on Redis directly
        hub = EventHub(replica)
        console = hub.subscribe()
        heard_by_other: List[Dict[str, Any]] = []
        other.subscribe(HUB_TOPIC, heard_by_other.append)
        try:
            await replica.start()
            await other.start()
            await until(lambda: replica.listening.is_set() and other.listening.is_set())
            other.publish(HUB_TOPIC, {"type": "message", "n": 1})
            assert await asyncio.wait_for(console.get(), 10) == {"type": "message", "n": 1}

            proxy.cut()
            await until(lambda: not replica.listening.is_set())
            await asyncio.sleep(0.3)  # a few refused reconnects
            proxy.mend()
            # Back: the console is told to reload, since anything published meanwhile is lost.
            assert await asyncio.wait_for(console.get(), 10) == {"type": "queue_changed", "section": None}
            other.publish(HUB_TOPIC, {"type": "message", "n": 2})
            assert await asyncio.wait_for(console.get(), 10) == {"type": "message", "n": 2}
            hub.publish({"type": "message", "n": 3})  # and this replica's publishes reach the other again
            await until(lambda: {"type": "message", "n": 3} in heard_by_other)
        finally:
            await replica.stop()
            await other.stop()
            await proxy.stop()

    asyncio.run(scenario())


def test_wrong_slip_numbers_count_across_replicas(replicas):
    """Five wrong visit slip numbers from one phone, spread over both replicas: the sixth try,
    even with a real slip, goes to staff (the count is shared, so alternating gains nothing)."""
    a, b = replicas
    number = web_slip(a)
    wrong = [f"{n:06d}" for n in range(900_001, 900_007) if f"{n:06d}" != number][:5]
    caller = Caller(a, number=f"+8170{uuid.uuid4().int % 10**8:08d}")
    caller.start()
    for turn, slip in enumerate(wrong):
        caller.server = (a, b)[turn % 2]
        caller.press("8")
        caller.server = (b, a)[turn % 2]
        caller.press(slip)
    caller.press("8")
    refused = caller.press(number)
    speech = SpeechService(Settings(var_dir=b.var_dir, tts="openjtalk"), b.var_dir / "speech")
    assert refused.plays[0] == url_of(speech, prompt("slip_limit"))  # 「職員がご案内します」, not the slip
    assert refused.dial == "+81120000111"  # 市民課 is open: a person takes over
