"""Train + evaluate + publish through the admin API, with residents talking the whole time.

Usage: .venv/bin/python bench/admin_publish.py [--conversations 20] [--force] [--swaps N] [--home DIR]
Starts its own `madoguchi serve` on a copy of intents/ (one new example, so the catalog really
changes) with its own models folder (the current model linked in, the shared models/ untouched)
and database, in a temporary folder (or DIR: its models are kept, so a second run reuses the
trained model; catalog copy and database are new each run).
Prints the train, evaluate and publish times and the turn latency (p50/p95) before, during the
swap and after; with --swaps, rolls back and publishes again N times, with 20 s quiet windows
in between, and compares the turns during the switches with those between them.
Numbers, not pass/fail.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import List, Optional, Tuple

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.turns import SCRIPT, percentile  # noqa: E402

PASSWORD = "bench horse battery staple"
NEW_EXAMPLE = "ぽんぽこぺーぱーを一枚ください"


class Crowd:
    def __init__(self, url: str, size: int) -> None:
        self.url, self.size = url, size
        self.turns: List[Tuple[float, float, bool]] = []  # (started, milliseconds, answered)
        self.running = True

    async def resident(self, client: httpx.AsyncClient) -> None:
        while self.running:
            sender = f"bench-{uuid.uuid4().hex[:10]}"
            for text in SCRIPT:
                if not self.running:
                    return
                started = time.monotonic()
                try:
                    reply = await client.post(f"{self.url}/webhooks/rest/webhook",
                                              json={"sender": sender, "message": text})
                    answered = reply.status_code == 200 and bool(reply.json())
                except httpx.HTTPError:
                    answered = False
                self.turns.append((started, (time.monotonic() - started) * 1000, answered))
                await asyncio.sleep(0.2)

    def window(self, start: float, end: float) -> List[Tuple[float, float, bool]]:
        return [t for t in self.turns if start <= t[0] < end]


def summary(turns: List[Tuple[float, float, bool]], normal_p95: Optional[float] = None) -> str:
    """p50/p95/max, and the share of turns slower than the normal p95 (5 % when nothing changed)."""
    if not turns:
        return "no turns"
    latencies = [t[1] for t in turns]
    failed = sum(not t[2] for t in turns)
    slower = "" if normal_p95 is None else \
        f"  above normal p95 {sum(latency > normal_p95 for latency in latencies) / len(latencies):4.1%}"
    return (f"{len(turns):5d} turns  p50 {statistics.median(latencies):6.0f} ms  "
            f"p95 {percentile(latencies, 0.95):6.0f} ms  max {max(latencies):6.0f} ms  unanswered {failed}{slower}")


def p95_of(turns: List[Tuple[float, float, bool]]) -> float:
    return percentile([t[1] for t in turns], 0.95)


async def wait_job(admin: httpx.AsyncClient, job: str) -> dict:
    while True:
        state = (await admin.get(f"/admin/api/jobs/{job}")).json()
        if state["state"] in ("done", "failed"):
            return state
        await asyncio.sleep(1)


def add_new_example(catalog: Path) -> None:
    path = catalog / "procedures" / "residence_certificate.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("examples:\n  ja:\n",
                                                             f"examples:\n  ja:\n    - {NEW_EXAMPLE}\n", 1),
                    encoding="utf-8")


async def switch_back_and_forth(crowd: Crowd, admin: httpx.AsyncClient, swaps: int, quiet: float) -> None:
    """Roll back and publish again `swaps` times: the turns while a model loads and swaps against
    the turns in the `quiet` seconds before each switch."""
    switching: List[Tuple[float, float, bool]] = []
    between: List[Tuple[float, float, bool]] = []
    for number in range(swaps):
        listing = (await admin.get("/admin/api/models")).json()
        running = listing["running"]
        other = next(m for m in listing["models"] if m["id"] != running and m["available"]
                     and m["published_at"])
        kind = "rollback" if number % 2 == 0 else "publish"
        await asyncio.sleep(quiet)
        between += crowd.window(time.monotonic() - quiet, time.monotonic())
        started = time.monotonic()
        job = (await admin.post(f"/admin/api/models/{other['id']}/{kind}")).json()["job"]
        done = await wait_job(admin, job)
        switching += crowd.window(started, time.monotonic())
        print(f"  {kind} to model {other['id']}: {time.monotonic() - started:5.1f} s ({done['state']})", flush=True)
    print(f"{swaps} more switches, {crowd.size} residents talking:")
    print(f"  between switches     {summary(between)}")
    print(f"  during the switches  {summary(switching, p95_of(between))}")


async def scenario(url: str, username: str, size: int, force: bool, catalog: Path, swaps: int) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=120) as login:
        reply = await login.post("/staff/api/login", json={"username": username, "password": PASSWORD})
        reply.raise_for_status()
        csrf, session = reply.json()["csrf_token"], login.cookies.get("madoguchi_staff")
    headers = {"Cookie": f"madoguchi_staff={session}", "X-CSRF-Token": csrf}
    crowd = Crowd(url, size)
    async with httpx.AsyncClient(timeout=120) as client, \
            httpx.AsyncClient(base_url=url, timeout=120, headers=headers) as admin:
        residents = [asyncio.ensure_future(crowd.resident(client)) for _ in range(size)]
        await asyncio.sleep(30)
        baseline_end = time.monotonic()
        add_new_example(catalog)
        started = time.monotonic()
        job = (await admin.post("/admin/api/models/train", json={"force": force})).json()["job"]
        trained = await wait_job(admin, job)
        train_seconds = time.monotonic() - started
        model = trained["model"]
        print(f"train + evaluate: {train_seconds:6.1f} s ({trained['state']}: {trained['message']})", flush=True)
        started = time.monotonic()
        evaluation = await admin.get(f"/admin/api/models/{model}/evaluation")
        if evaluation.status_code == 202:
            await wait_job(admin, evaluation.json()["job"])
            evaluation = await admin.get(f"/admin/api/models/{model}/evaluation")
        body = evaluation.json()
        print(f"evaluation of the running model (side by side): {time.monotonic() - started:6.1f} s; "
              f"new accuracy {body['model']['accuracy']:.3f} F1 {body['model']['macro_f1']:.3f}, running "
              f"{body['running']['accuracy']:.3f} F1 {body['running']['macro_f1']:.3f}", flush=True)
        swap_start = time.monotonic()
        job = (await admin.post(f"/admin/api/models/{model}/publish")).json()["job"]
        published = await wait_job(admin, job)
        swap_end = time.monotonic()
        print(f"publish (load beside + swap): {swap_end - swap_start:6.1f} s ({published['message']})", flush=True)
        print(f"train + evaluate + publish: {swap_end - started + train_seconds:6.1f} s", flush=True)
        await asyncio.sleep(20)
        print(f"{size} residents talking throughout:")
        normal = p95_of(crowd.window(0, baseline_end))
        print(f"  before training      {summary(crowd.window(0, baseline_end))}")
        print(f"  during training      {summary(crowd.window(baseline_end, swap_start), normal)}")
        print(f"  during publish/swap  {summary(crowd.window(swap_start, swap_end), normal)}")
        print(f"  after the swap       {summary(crowd.window(swap_end, float('inf')), normal)}", flush=True)
        if swaps:
            await switch_back_and_forth(crowd, admin, swaps, quiet=20)
        crowd.running = False
        await asyncio.gather(*residents)
        parsed = await client.post(f"{url}/webhooks/rest/webhook", json={"sender": "bench-check",
                                                                          "message": NEW_EXAMPLE})
        print(f"new example answered after publish: {parsed.json()[0].get('text', '')[:40]!r}")


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--force", action="store_true", help="train even if this catalog's model exists")
    parser.add_argument("--swaps", type=int, default=0, help="roll back and publish again this many times")
    parser.add_argument("--home", type=Path, help="keep the trained models here for the next run")
    args = parser.parse_args(argv)
    from bot.settings import PROJECT_ROOT, Settings
    from bot.training import ensure_model
    from tests.devserver import running_server

    model = ensure_model(Settings.from_env())
    with tempfile.TemporaryDirectory() as scratch:
        home = args.home or Path(scratch)
        shutil.rmtree(home / "intents", ignore_errors=True)  # the server starts on the catalog without the new example
        shutil.copytree(PROJECT_ROOT / "intents", home / "intents")
        (home / "models").mkdir(parents=True, exist_ok=True)
        if not (home / "models" / model.name).exists():
            (home / "models" / model.name).symlink_to(model)
        extra = {"MADOGUCHI_CATALOG": str(home / "intents"), "MADOGUCHI_MODELS": str(home / "models"),
                 "MADOGUCHI_BUILD": str(home / "build"), "MADOGUCHI_TTS_PRESYNTHESIS": "off"}
        shutil.rmtree(home / "var", ignore_errors=True)
        with running_server(home / "var", "bench-token", extra) as server:
            username = "bench-admin"
            env = dict(os.environ, MADOGUCHI_VAR=str(home / "var"))
            subprocess.run([sys.executable, "-m", "bot.cli", "staff", "add", "--username", username, "--role",
                            "admin", "--password-stdin"], input=PASSWORD + "\n", text=True, check=True,
                           cwd=PROJECT_ROOT, env=env, capture_output=True)
            asyncio.run(scenario(server.base_url, username, args.conversations, args.force, home / "intents",
                                 args.swaps))


if __name__ == "__main__":
    main()
