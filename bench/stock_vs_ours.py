"""Stock Rasa vs one madoguchi replica vs the two-replica cluster: same model, same scripted conversations, one run.

The reference is what a city would run without madoguchi: `rasa run` (Rasa's REST channel,
Rasa's own SQLTrackerStore) + `rasa run actions` (rasa_sdk's action server running our
dialogue action, built in a temp dir). Against it: one `madoguchi serve`, and on PostgreSQL
also the cluster `make cluster` runs (scripts/cluster.sh: two replicas, Redis, nginx in front).
All sides are up at the same time and are measured in turns (A B C A B C …) at each concurrency
level, so load from anything else on the machine falls on all alike; the table sums the repeats.

Usage: .venv/bin/python bench/stock_vs_ours.py [--levels 1,20,50] [--rounds 2] [--repeats 2]
                                               [--databases sqlite,postgresql]
                                               [--postgres postgresql://postgres@127.0.0.1:5432]
                                               [--no-cluster]
PostgreSQL: a fresh database per side is created (and dropped afterwards) on that server.
Prints numbers; it never fails on them.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.turns import SCRIPT, percentile  # noqa: E402
from bot.settings import PROJECT_ROOT, Settings  # noqa: E402
from tests.devserver import free_port, running_server, stop_process  # noqa: E402

RASA = str(Path(sys.executable).with_name("rasa"))
# The action package of the stock reference: rasa_sdk registers every Action subclass it imports.
STOCK_ACTIONS = "from bot.actions import ActionMadoguchi  # noqa: F401  (built from the environment)\n"


@dataclass
class Sample:
    """Every turn's latency at one level, for one side, over all its repeats."""

    latencies: List[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


async def conversation(client: httpx.AsyncClient, url: str, latencies: List[float]) -> None:
    sender = f"bench-{uuid.uuid4().hex[:12]}"
    for text in SCRIPT:
        started = time.perf_counter()
        reply = await client.post(url, json={"sender": sender, "message": text})
        reply.raise_for_status()
        if not reply.json():
            raise RuntimeError(f"no reply to {text!r} from {url}")
        latencies.append((time.perf_counter() - started) * 1000)


async def measure(url: str, concurrent: int, rounds: int, sample: Sample) -> None:
    limits = httpx.Limits(max_connections=concurrent + 1, max_keepalive_connections=concurrent + 1)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:
        await conversation(client, url, [])  # warm-up: connections, caches
        started = time.perf_counter()
        for _ in range(rounds):
            await asyncio.gather(*(conversation(client, url, sample.latencies) for _ in range(concurrent)))
        sample.seconds += time.perf_counter() - started


# --- the stock reference ---------------------------------------------------------------------
def stock_tracker_store(database_url: str, directory: Path) -> str:
    """endpoints.yml's tracker_store: Rasa's own SQLTrackerStore (type: SQL)."""
    if database_url.startswith("sqlite:///"):
        return f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {database_url[len('sqlite:///'):]}\n"
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    return (f"tracker_store:\n  type: SQL\n  dialect: postgresql\n  url: {url.host}\n  port: {url.port or 5432}\n"
            f"  username: {url.username}\n" + (f"  password: {url.password}\n" if url.password else "")
            + f"  db: {url.database}\n")


def wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited early:\n{log.read_text()[-4000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=5).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} not ready:\n{log.read_text()[-4000:]}")
        time.sleep(1)


@contextlib.contextmanager
def stopping(process: subprocess.Popen) -> Iterator[subprocess.Popen]:
    try:
        yield process
    finally:
        stop_process(process)


@contextlib.contextmanager
def stock_rasa(model: Path, database_url: str, directory: Path) -> Iterator[str]:
    """`rasa run actions` + `rasa run` on free ports; yields the REST webhook URL."""
    (directory / "stock_actions").mkdir()
    (directory / "stock_actions" / "__init__.py").write_text(STOCK_ACTIONS)
    actions_port, rasa_port = free_port(), free_port()
    (directory / "credentials.yml").write_text("rest:\n")
    (directory / "endpoints.yml").write_text(
        stock_tracker_store(database_url, directory) + f"action_endpoint:\n  url: http://127.0.0.1:{actions_port}/webhook\n")
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=os.pathsep.join([str(directory), str(PROJECT_ROOT)]),
               MADOGUCHI_DATABASE_URL=database_url, MADOGUCHI_VAR=str(directory / "var"))
    actions_log, rasa_log = directory / "actions.log", directory / "rasa.log"
    with open(actions_log, "w") as alog, open(rasa_log, "w") as rlog:
        actions = subprocess.Popen([RASA, "run", "actions", "--actions", "stock_actions", "--port", str(actions_port)],
                                   cwd=directory, env=env, stdout=alog, stderr=subprocess.STDOUT)
        with stopping(actions):
            rasa = subprocess.Popen([RASA, "run", "--model", str(model), "--endpoints", "endpoints.yml",
                                     "--credentials", "credentials.yml", "--port", str(rasa_port),
                                     "--interface", "127.0.0.1"],
                                    cwd=directory, env=env, stdout=rlog, stderr=subprocess.STDOUT)
            with stopping(rasa):
                wait_for(f"http://127.0.0.1:{actions_port}/health", actions, actions_log)
                wait_for(f"http://127.0.0.1:{rasa_port}/webhooks/rest/", rasa, rasa_log)
                yield f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook"


@contextlib.contextmanager
def cluster(database_url: str, directory: Path) -> Iterator[str]:
    """scripts/cluster.sh (what `make cluster` runs) on free ports; yields the REST URL through nginx."""
    listen = f"127.0.0.1:{free_port()}"
    env = dict(os.environ, CLUSTER_DIR=str(directory), CLUSTER_LISTEN=listen,
               CLUSTER_PORTS=f"{free_port()} {free_port()}", MADOGUCHI_DATABASE_URL=database_url,
               RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2")
    script = ["bash", str(PROJECT_ROOT / "scripts" / "cluster.sh")]
    subprocess.run(script + ["start"], env=env, cwd=PROJECT_ROOT, check=True, timeout=900)
    try:
        yield f"http://{listen}/webhooks/rest/webhook"
    finally:
        subprocess.run(script + ["stop"], env=env, cwd=PROJECT_ROOT, timeout=120)


# --- databases ---------------------------------------------------------------------------------
@contextlib.contextmanager
def database(kind: str, postgres: str, directory: Path, side: str) -> Iterator[str]:
    """A fresh, empty database for one side: a file in `directory`, or a new PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / f'{side}.db'}"
        return
    from sqlalchemy import create_engine, text

    name = f"bench_{side}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{postgres.rstrip('/')}/postgres", isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{postgres.rstrip('/')}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- the run -----------------------------------------------------------------------------------
def compare(kind: str, model: Path, levels: List[int], rounds: int, repeats: int, postgres: str,
            with_cluster: bool) -> Dict[int, Dict[str, Sample]]:
    results: Dict[int, Dict[str, Sample]] = {}
    with tempfile.TemporaryDirectory() as temp, contextlib.ExitStack() as stack:
        root = Path(temp)
        for side in ("stock", "ours", "cluster"):
            (root / side).mkdir()
        started = time.perf_counter()
        print(f"[{kind}] starting stock rasa run + rasa run actions and madoguchi serve …", flush=True)
        stock_db = stack.enter_context(database(kind, postgres, root / "stock", "stock"))
        ours_db = stack.enter_context(database(kind, postgres, root / "ours", "ours"))
        urls = {"stock": stack.enter_context(stock_rasa(model, stock_db, root / "stock"))}
        extra = {} if kind == "sqlite" else {"MADOGUCHI_DATABASE_URL": ours_db}
        server = stack.enter_context(running_server(root / "ours" / "var", "bench-token", extra))
        urls["ours"] = f"{server.base_url}/webhooks/rest/webhook"
        if with_cluster and kind == "postgresql":  # replicas share one database: PostgreSQL only
            print(f"[{kind}] starting the cluster (two replicas + nginx) …", flush=True)
            cluster_db = stack.enter_context(database(kind, postgres, root / "cluster", "cluster"))
            urls["cluster"] = stack.enter_context(cluster(cluster_db, root / "cluster"))
        print(f"[{kind}] all ready in {time.perf_counter() - started:.0f} s", flush=True)
        for level in levels:
            samples = {side: Sample() for side in urls}
            for repeat in range(repeats):
                for side, url in urls.items():
                    asyncio.run(measure(url, level, rounds, samples[side]))
                    print(f"[{kind}] {level:>3} concurrent, repeat {repeat + 1}/{repeats}: {side} done"
                          f" ({len(samples[side].latencies)} turns so far)", flush=True)
            results[level] = samples
    return results


def table(kind: str, results: Dict[int, Dict[str, Sample]]) -> None:
    sides = list(next(iter(results.values())))
    print(f"\n{kind}: turns/s, p50 and p95 in ms ({len(SCRIPT)} turns per conversation); ratios against stock")
    print(f"{'conv':>5} | " + " | ".join(f"{side + ' t/s':>12} {'p50':>6} {'p95':>6}" for side in sides)
          + " | " + " ".join(f"{side + ' t/s×':>12} {side + ' p95×':>12}" for side in sides[1:]))
    for level, samples in results.items():
        stock = samples["stock"]
        cells = [f"{samples[side].throughput:>12.1f} {percentile(samples[side].latencies, 0.5):>6.0f} "
                 f"{percentile(samples[side].latencies, 0.95):>6.0f}" for side in sides]
        ratios = [f"{samples[side].throughput / stock.throughput:>11.2f}× "
                  f"{percentile(samples[side].latencies, 0.95) / percentile(stock.latencies, 0.95):>11.2f}×"
                  for side in sides[1:]]
        print(f"{level:>5} | " + " | ".join(cells) + " | " + " ".join(ratios), flush=True)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,20,50", help="concurrent conversations, comma-separated")
    parser.add_argument("--rounds", type=int, default=2, help="conversations per concurrent slot and repeat")
    parser.add_argument("--repeats", type=int, default=2, help="stock/ours alternations per level (A B A B)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432",
                        help="PostgreSQL server URL (no database name)")
    parser.add_argument("--no-cluster", action="store_true", help="skip the two-replica cluster (PostgreSQL)")
    args = parser.parse_args(argv)
    levels = [int(level) for level in args.levels.split(",")]
    from bot.training import ensure_model

    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    model = ensure_model(Settings.from_env())
    print(f"model {model.name}; levels {levels}; {args.rounds} round(s) × {args.repeats} repeat(s) per side",
          flush=True)
    all_results = {}
    for kind in args.databases.split(","):
        all_results[kind] = compare(kind, model, levels, args.rounds, args.repeats, args.postgres,
                                    not args.no_cluster)
        table(kind, all_results[kind])
    print("\nratio: side / stock (turns/s above 1 is faster; p95 below 1 is faster)")
    for kind, results in all_results.items():
        table(kind, results)


if __name__ == "__main__":
    main()
