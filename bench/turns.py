"""Latency per turn and throughput of the REST channel, at 1 and 20 concurrent conversations.

Usage: .venv/bin/python bench/turns.py [--url http://127.0.0.1:5005] [--conversations 20] [--rounds 3]
Without --url it starts its own `madoguchi serve` (SQLite in a temp dir) and stops it after.
Prints numbers; it never fails on them.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import List

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SCRIPT = [  # one resident's conversation
    "こんにちは",
    "マイナンバーカードをなくしました",
    "何を持っていけばいい？",
    "手数料はいくら？",
    "市役所は何時まで開いていますか",
    "住民票の写しがほしい",
    "English please",
    "ありがとう",
]


def percentile(values: List[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


async def conversation(client: httpx.AsyncClient, url: str, latencies: List[float]) -> None:
    sender = f"bench-{uuid.uuid4().hex[:12]}"
    for text in SCRIPT:
        started = time.perf_counter()
        reply = await client.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text})
        reply.raise_for_status()
        latencies.append((time.perf_counter() - started) * 1000)


async def run_level(url: str, concurrent: int, rounds: int) -> dict:
    latencies: List[float] = []
    async with httpx.AsyncClient(timeout=120) as client:
        await conversation(client, url, [])  # warm-up
        started = time.perf_counter()
        for _ in range(rounds):
            await asyncio.gather(*(conversation(client, url, latencies) for _ in range(concurrent)))
        elapsed = time.perf_counter() - started
    return {
        "concurrent": concurrent, "turns": len(latencies),
        "p50": statistics.median(latencies), "p95": percentile(latencies, 0.95),
        "throughput": len(latencies) / elapsed,
    }


def report(url: str, levels: List[int], rounds: int) -> None:
    print(f"{'conversations':>13} {'turns':>6} {'p50 ms':>8} {'p95 ms':>8} {'turns/s':>8}")
    for level in levels:
        row = asyncio.run(run_level(url, level, rounds))
        print(f"{row['concurrent']:>13} {row['turns']:>6} {row['p50']:>8.0f} {row['p95']:>8.0f}"
              f" {row['throughput']:>8.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server; default: start one")
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    levels = [1, args.conversations]
    if args.url:
        report(args.url, levels, args.rounds)
        return
    from bot.settings import Settings
    from bot.training import ensure_model
    from tests.devserver import running_server

    started = time.perf_counter()
    ensure_model(Settings.from_env())
    print(f"model ready in {time.perf_counter() - started:.1f} s", flush=True)
    with tempfile.TemporaryDirectory() as var:
        started = time.perf_counter()
        with running_server(Path(var), "bench-token") as server:
            print(f"server ready (model loaded) in {time.perf_counter() - started:.1f} s; "
                  f"REST channel, SQLite tracker store, {len(SCRIPT)} turns per conversation", flush=True)
            report(server.base_url, levels, args.rounds)


if __name__ == "__main__":
    main()
