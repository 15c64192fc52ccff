"""Reliability of `make cluster`: two replicas behind nginx on PostgreSQL and Redis, under load and faults.

The cluster is started by scripts/cluster.sh, the script `make cluster` runs, on other ports and a fresh
database (dropped after), so the test exercises exactly what a city deploys. Every conversation is checked
in its tracker (Rasa's HTTP API through nginx, with the API token): the resident's messages in the order
sent, each turn's answers exactly as the resident received them, nothing twice.

The tests run in file order on one cluster; the last two take its replicas down one by one.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time
import unicodedata
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

import httpx
import pytest
from sqlalchemy import create_engine, text

from bot.settings import PROJECT_ROOT
from bot.store.lock_store import AtomicRedisLockStore
from tests.conftest import API_TOKEN, FAKE_NOW, REDIS_URL
from tests.devserver import free_port

POSTGRES = "postgresql://postgres@127.0.0.1:5432"
# Questions a resident asks, none a fallback (two in a row would hand the conversation to staff).
QUESTIONS = [
    "こんにちは",
    "マイナンバーカードをなくしました",
    "住民票の写しがほしい",
    "手数料はいくら？",
    "市役所は何時まで開いていますか",
    "引っ越しの手続きを教えて",
    "印鑑登録をしたい",
    "ありがとう",
    "戸籍謄本がほしい",
    "English please",
]
GRACE_SECONDS = 20  # MADOGUCHI_GRACEFUL_SHUTDOWN_SECONDS of the test cluster
# A conversation whose replica died mid-turn keeps its Redis lock ticket until it expires: the
# resident's retry waits at most this long (Rasa's TICKET_LOCK_LIFETIME, 60 s by default).
LOCK_LIFETIME_SECONDS = 20


def questions(turns: int) -> List[str]:
    return [QUESTIONS[i % len(QUESTIONS)] for i in range(turns)]


@dataclass
class Cluster:
    url: str
    ports: List[int]
    directory: Path
    database_url: str
    env: Dict[str, str]

    def script(self, command: str, timeout: float = 900) -> None:
        subprocess.run(["bash", str(PROJECT_ROOT / "scripts" / "cluster.sh"), command], env=self.env,
                       cwd=PROJECT_ROOT, check=True, timeout=timeout)

    def replica_pid(self, port: int) -> int:
        return int((self.directory / f"replica-{port}.pid").read_text())


@pytest.fixture(scope="module")
def cluster(trained_model: Path, tmp_path_factory) -> Any:
    directory = tmp_path_factory.mktemp("cluster")
    database = f"madoguchi_cluster_{uuid.uuid4().hex[:10]}"
    ports = [free_port(), free_port()]
    listen = f"127.0.0.1:{free_port()}"
    env = dict(os.environ, CLUSTER_DIR=str(directory), CLUSTER_PORTS=" ".join(map(str, ports)),
               CLUSTER_LISTEN=listen, CLUSTER_POSTGRES=POSTGRES, CLUSTER_DATABASE=database,
               MADOGUCHI_VAR=str(directory / "var"), MADOGUCHI_API_TOKEN=API_TOKEN, MADOGUCHI_FAKE_NOW=FAKE_NOW,
               MADOGUCHI_REDIS_URL=REDIS_URL, MADOGUCHI_GRACEFUL_SHUTDOWN_SECONDS=str(GRACE_SECONDS),
               TICKET_LOCK_LIFETIME=str(LOCK_LIFETIME_SECONDS), MADOGUCHI_TTS_PRESYNTHESIS="off")
    env.pop("MADOGUCHI_DATABASE_URL", None)
    running = Cluster(f"http://{listen}", ports, directory, f"{POSTGRES}/{database}", env)
    try:
        running.script("start")
        yield running
    finally:
        running.script("stop", timeout=120)
        engine = create_engine(f"{POSTGRES}/postgres", future=True, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'drop database if exists "{database}" with (force)'))
        engine.dispose()


# --- residents ------------------------------------------------------------------------------------

@dataclass
class Resident:
    """One conversation: what was sent, what came back, which turns had to be retried."""

    sender: str
    sent: List[str] = field(default_factory=list)
    answers: List[List[str]] = field(default_factory=list)
    retried: Set[int] = field(default_factory=set)


@dataclass
class Run:
    residents: List[Resident]
    answered: int = 0
    failures: List[str] = field(default_factory=list)


async def turn(client: httpx.AsyncClient, url: str, resident: Resident, message: str) -> Optional[List[str]]:
    """One turn through nginx; a failed HTTP exchange is retried once, as a browser's page would."""
    for attempt in (0, 1):
        try:
            reply = await client.post(f"{url}/webhooks/rest/webhook",
                                      json={"sender": resident.sender, "message": message})
            if reply.status_code == 200:
                return [m.get("text") or "" for m in reply.json()]
            problem = f"HTTP {reply.status_code}"
        except httpx.HTTPError as error:
            problem = type(error).__name__
        if attempt == 0:
            resident.retried.add(len(resident.sent))
    raise AssertionError(f"{resident.sender} turn {len(resident.sent)} failed twice ({problem})")


async def converse(client: httpx.AsyncClient, url: str, resident: Resident, messages: List[str], run: Run) -> None:
    for message in messages:
        try:
            answer = await turn(client, url, resident, message)
        except AssertionError as error:
            run.failures.append(str(error))
            return
        resident.sent.append(message)
        resident.answers.append(answer or [])
        run.answered += 1


def run_conversations(url: str, conversations: int, turns: int, prefix: str,
                      fault: Optional[Tuple[float, Any]] = None) -> Run:
    """`conversations` residents at once, `turns` each; `fault` = (share of turns answered, function)
    runs the function (in a thread) once that share of all turns is answered."""
    run = Run([Resident(f"{prefix}-{i}-{uuid.uuid4().hex[:6]}") for i in range(conversations)])

    async def main() -> None:
        limits = httpx.Limits(max_connections=conversations, max_keepalive_connections=conversations)
        async with httpx.AsyncClient(timeout=LOCK_LIFETIME_SECONDS + 60, limits=limits) as client:
            talks = [asyncio.create_task(converse(client, url, r, questions(turns), run)) for r in run.residents]
            if fault:
                share, action = fault
                while run.answered < share * conversations * turns and not all(t.done() for t in talks):
                    await asyncio.sleep(0.05)
                await asyncio.to_thread(action)
            await asyncio.gather(*talks)

    asyncio.run(main())
    return run


# --- what the trackers must show ------------------------------------------------------------------

def tracker_events(url: str, sender: str) -> List[Dict[str, Any]]:
    reply = httpx.get(f"{url}/conversations/rest:{sender}/tracker", params={"token": API_TOKEN}, timeout=60)
    reply.raise_for_status()
    return reply.json()["events"]


def turns_in(events: List[Dict[str, Any]]) -> List[Tuple[str, List[str]]]:
    """(user text, bot texts that followed it) per user message, in tracker order."""
    turns: List[Tuple[str, List[str]]] = []
    for event in events:
        if event["event"] == "user":
            turns.append((event.get("text") or "", []))
        elif event["event"] == "bot" and turns:
            turns[-1][1].append(event.get("text") or "")
    return turns


def assert_nothing_lost(url: str, run: Run, turns: int) -> int:
    """Every turn answered; each tracker holds the conversation as the resident saw it. A retried turn
    may appear twice in a row (the dead replica may have saved it before it could answer), nothing
    else may. Returns the number of retried turns."""
    assert not run.failures, run.failures[:5]
    retried = 0
    for resident in run.residents:
        assert len(resident.sent) == turns and all(resident.answers), resident.sender
        events = tracker_events(url, resident.sender)
        stamps = [event["timestamp"] for event in events]
        assert stamps == sorted(stamps), f"{resident.sender}: events out of order"
        stored = turns_in(events)
        expected = []
        for index, (message, answer) in enumerate(zip(resident.sent, resident.answers, strict=True)):
            expected_turn = (unicodedata.normalize("NFKC", message), answer)
            if index in resident.retried and stored[len(expected):len(expected) + 2] == [expected_turn] * 2:
                expected.append(expected_turn)  # saved by the replica that died, then again by the retry
            expected.append(expected_turn)
        assert stored == expected, f"{resident.sender}: tracker differs from the conversation"
        retried += len(resident.retried)
    return retried


# --- the tests ------------------------------------------------------------------------------------

def test_cluster_serves_through_nginx_with_both_replicas_ready(cluster: Cluster):
    ready = httpx.get(f"{cluster.url}/health/ready", timeout=30)
    assert ready.status_code == 200 and ready.json()["ready"] is True
    for port in cluster.ports:
        checks = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=30).json()["checks"]
        assert all(checks[part] is True for part in ("model", "database", "redis", "accepting")), checks
    conf = (cluster.directory / "nginx.conf").read_text()
    assert "proxy_buffering off;" in conf and all(f"127.0.0.1:{port} max_fails" in conf for port in cluster.ports)


def test_fifty_conversations_of_twenty_turns_lose_nothing(cluster: Cluster):
    run = run_conversations(cluster.url, conversations=50, turns=20, prefix="load")
    assert assert_nothing_lost(cluster.url, run, turns=20) == 0  # no fault: no turn needed a retry
    # nginx balanced the turns over both replicas, and every resident message is in PostgreSQL.
    access_log = (cluster.directory / "nginx-access.log").read_text().splitlines()
    turns_per_replica = [sum(1 for line in access_log if "POST /webhooks/rest/webhook" in line
                             and f"upstream=127.0.0.1:{port} " in line) for port in cluster.ports]
    assert sum(turns_per_replica) >= 50 * 20 and min(turns_per_replica) >= 200, turns_per_replica
    engine = create_engine(cluster.database_url, future=True)
    with engine.connect() as connection:
        stored = connection.execute(text("select count(*) from events where type_name = 'user' "
                                         "and sender_id like 'rest:load-%'")).scalar()
    engine.dispose()
    assert stored == 50 * 20


def test_postgresql_connections_dropped_mid_run_lose_nothing(cluster: Cluster):
    terminated: List[int] = []

    def drop_connections() -> None:
        engine = create_engine(f"{POSTGRES}/postgres", future=True, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            for _ in range(2):  # twice, a moment apart: pools that reconnected lose them again
                rows = connection.execute(text(
                    "select pg_terminate_backend(pid) from pg_stat_activity "
                    "where datname = :database and pid <> pg_backend_pid()"),
                    {"database": cluster.database_url.rsplit("/", 1)[1]}).all()
                terminated.append(sum(1 for (done,) in rows if done))
                time.sleep(1)
        engine.dispose()

    run = run_conversations(cluster.url, conversations=20, turns=10, prefix="pg", fault=(0.3, drop_connections))
    assert terminated[0] > 0, "no database connection was open to drop"
    assert_nothing_lost(cluster.url, run, turns=10)
    assert httpx.get(f"{cluster.url}/health/ready", timeout=30).status_code == 200


def test_a_replica_killed_mid_run_loses_nothing(cluster: Cluster):
    victim = cluster.ports[1]

    def kill_replica() -> None:
        os.kill(cluster.replica_pid(victim), signal.SIGKILL)

    run = run_conversations(cluster.url, conversations=20, turns=10, prefix="kill", fault=(0.3, kill_replica))
    assert_nothing_lost(cluster.url, run, turns=10)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{victim}/health/live", timeout=5)
    # The survivor answered everything after the kill.
    survivor_ready = httpx.get(f"http://127.0.0.1:{cluster.ports[0]}/health/ready", timeout=30)
    assert survivor_ready.status_code == 200


def test_sigterm_lets_the_turn_in_flight_finish(cluster: Cluster):
    """SIGTERM while a turn waits for its conversation's lock: the replica stops taking connections,
    the turn is answered (and stored), then the replica exits."""
    port = cluster.ports[0]
    sender = f"graceful-{uuid.uuid4().hex[:8]}"
    conversation = f"rest:{sender}"
    locks = AtomicRedisLockStore(url=REDIS_URL)
    held = locks.issue_ticket(conversation, lock_lifetime=60)  # the turn below queues behind this ticket
    outcome: Dict[str, Any] = {}

    def resident_turn() -> None:
        try:
            outcome["reply"] = httpx.post(f"http://127.0.0.1:{port}/webhooks/rest/webhook",
                                          json={"sender": sender, "message": "住民票の写しがほしい"}, timeout=60)
        except httpx.HTTPError as error:
            outcome["error"] = error

    pid = cluster.replica_pid(port)
    resident = threading.Thread(target=resident_turn)
    resident.start()
    try:
        queue = locks.keys(conversation)[0]
        deadline = time.monotonic() + 30
        while locks.red.zcard(queue) < 2:  # the server has taken its ticket: the turn is in flight
            assert time.monotonic() < deadline, "the turn never reached the replica"
            time.sleep(0.05)
        os.kill(pid, signal.SIGTERM)
        time.sleep(2)
        assert process_alive(pid), "the replica exited with a turn in flight"
        with pytest.raises(httpx.ConnectError):  # draining: no new connections
            httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=5)
    finally:
        locks.finish_serving(conversation, held)
        resident.join(timeout=60)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["reply"].status_code == 200 and outcome["reply"].json()[0]["text"]
    deadline = time.monotonic() + GRACE_SECONDS
    while process_alive(pid):
        assert time.monotonic() < deadline, "the replica did not exit after its last turn"
        time.sleep(0.2)
    engine = create_engine(cluster.database_url, future=True)
    with engine.connect() as connection:
        stored = connection.execute(text("select count(*) from events where sender_id = :id and type_name = 'bot'"),
                                    {"id": conversation}).scalar()
    engine.dispose()
    assert stored >= 1


def process_alive(pid: int) -> bool:
    """The replica runs (it is not our child: cluster.sh started it, so a zombie cannot linger here)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
