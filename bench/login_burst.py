"""Resident turn latency while someone hammers the staff login with wrong passwords.

Usage: .venv/bin/python bench/login_burst.py [--url http://127.0.0.1:5005] [--logins 400] [--parallel 40]
Without --url it starts its own `madoguchi serve` (SQLite in a temp dir) and stops it after.
Prints resident turn p50/p95 when quiet and during the burst (and how the logins were answered);
it never fails on them. The burst is bounded (--logins) and comes from a spare loopback address
(127.0.0.0/8 is all local), so the throttle it triggers does not lock out 127.0.0.1.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Dict, List

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.turns import conversation, percentile  # noqa: E402

BURST_ADDRESS = "127.0.0.77"


async def resident_turns(url: str, conversations: int) -> List[float]:
    latencies: List[float] = []
    async with httpx.AsyncClient(timeout=120) as client:
        for _ in range(conversations):
            await conversation(client, url, latencies)
    return latencies


async def wrong_logins(url: str, total: int, parallel: int) -> Dict[str, float]:
    """`total` wrong logins (made-up usernames, as a password sprayer), `parallel` at a time."""
    statuses: collections.Counter = collections.Counter()
    pending = iter(range(total))
    transport = httpx.AsyncHTTPTransport(local_address=BURST_ADDRESS)
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=120, transport=transport) as client:
        async def worker() -> None:
            for i in pending:
                reply = await client.post(f"{url}/staff/api/login",
                                          json={"username": f"guess{i % 50}", "password": f"wrong password {i}"})
                statuses[reply.status_code] += 1

        await asyncio.gather(*(worker() for _ in range(parallel)))
    return {"seconds": time.perf_counter() - started, **{str(code): n for code, n in sorted(statuses.items())}}


async def measure(url: str, conversations: int, logins: int, parallel: int) -> None:
    async with httpx.AsyncClient(timeout=120) as client:
        await conversation(client, url, [])  # warm-up
    quiet = await resident_turns(url, conversations)
    burst, during = await asyncio.gather(wrong_logins(url, logins, parallel), resident_turns(url, conversations))
    print(f"{'':>14} {'turns':>6} {'p50 ms':>8} {'p95 ms':>8}")
    for label, values in (("quiet", quiet), ("during burst", during)):
        print(f"{label:>14} {len(values):>6} {statistics.median(values):>8.0f} {percentile(values, 0.95):>8.0f}")
    answers = ", ".join(f"{code}: {n}" for code, n in burst.items() if code != "seconds")
    print(f"burst: {logins} wrong logins, {parallel} in parallel, {burst['seconds']:.1f} s ({answers})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server; default: start one")
    parser.add_argument("--conversations", type=int, default=3, help="resident conversations (8 turns each) per phase")
    parser.add_argument("--logins", type=int, default=400)
    parser.add_argument("--parallel", type=int, default=40)
    args = parser.parse_args()
    if args.url:
        asyncio.run(measure(args.url, args.conversations, args.logins, args.parallel))
        return
    from bot.settings import Settings
    from bot.training import ensure_model
    from tests.devserver import running_server

    ensure_model(Settings.from_env())
    with tempfile.TemporaryDirectory() as var:
        with running_server(Path(var), f"bench-{uuid.uuid4().hex[:8]}") as server:
            print("server ready; REST channel, SQLite, resident turns sequential", flush=True)
            asyncio.run(measure(server.base_url, args.conversations, args.logins, args.parallel))


if __name__ == "__main__":
    main()
