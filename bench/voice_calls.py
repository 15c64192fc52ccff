"""Webhook → TwiML latency of the phone channel, and the speech cache's hit rate in a call mix.

Usage: .venv/bin/python bench/voice_calls.py [--calls 10] [--rounds 2]
Starts its own `madoguchi serve` (Twilio on with a test token, Open JTalk, SQLite in a temp dir),
plays scripted calls as Twilio would (signed form posts), and prints per round: steps, p50/p95
latency, and the cache hit rate (Plays whose audio already existed / all Plays, counted from the
files in the speech cache). Round 1 starts cold (apart from the background pre-synthesis of the
catalog); later rounds show the warm cache. Prints numbers; it never fails on them.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List, Tuple

import httpx
from twilio.request_validator import RequestValidator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.devserver import running_server  # noqa: E402

AUTH_TOKEN = "bench-twilio-auth-token-0123456789abcdef"
PUBLIC_URL = "http://madoguchi.bench.example"
# One caller's steps: (path, form fields). A mix of speech, keys, repeats and menus.
SCRIPT: List[Tuple[str, Dict[str, str]]] = [
    ("/webhooks/voice/webhook", {}),
    ("/webhooks/voice/gather", {"SpeechResult": "マイナンバーカードをなくしました", "Confidence": "0.9"}),
    ("/webhooks/voice/gather", {"Digits": "9"}),
    ("/webhooks/voice/gather", {"Digits": "1"}),
    ("/webhooks/voice/gather", {"Digits": "#"}),
    ("/webhooks/voice/gather", {"Digits": "*"}),
    ("/webhooks/voice/gather", {"Digits": "2"}),
    ("/webhooks/voice/gather", {"Digits": "1"}),
    ("/webhooks/voice/gather", {"SpeechResult": "コンビニで住民票はとれますか", "Confidence": "0.85"}),
    ("/webhooks/voice/gather", {}),
]


def percentile(values: List[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def one_call(client: httpx.Client, base_url: str, number: str, latencies: List[float]) -> int:
    """Play SCRIPT as one call; returns how many <Play>s the answers had."""
    validator = RequestValidator(AUTH_TOKEN)
    call_sid = "CA" + uuid.uuid4().hex
    plays = 0
    for path, extra in SCRIPT:
        form = {"CallSid": call_sid, "From": number, "To": "+81501234000", "AccountSid": "AC" + "0" * 32, **extra}
        headers = {"X-Twilio-Signature": validator.compute_signature(PUBLIC_URL + path, form)}
        started = time.perf_counter()
        reply = client.post(base_url + path, data=form, headers=headers)
        latencies.append((time.perf_counter() - started) * 1000)
        reply.raise_for_status()
        plays += sum(1 for _ in ET.fromstring(reply.text).iter("Play"))
    return plays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        env = {"MADOGUCHI_TWILIO_AUTH_TOKEN": AUTH_TOKEN, "MADOGUCHI_PUBLIC_URL": PUBLIC_URL,
               "MADOGUCHI_TTS": "openjtalk"}
        with running_server(Path(directory), "", env) as server, httpx.Client(timeout=120) as client:
            cache = Path(directory) / "speech"
            print("| round | steps | p50 | p95 | cache hit rate |\n|---:|---:|---:|---:|---:|")
            for round_number in range(1, args.rounds + 1):
                files_before = len(list(cache.glob("*.wav"))) if cache.exists() else 0
                latencies: List[float] = []
                plays = 0
                for index in range(args.calls):
                    # The same callers each round: a caller who calls again continues their conversation.
                    plays += one_call(client, server.base_url, f"+8190{10_000_000 + index}", latencies)
                new_files = len(list(cache.glob("*.wav"))) - files_before
                hit_rate = 1 - new_files / plays if plays else 0.0
                print(f"| {round_number} | {len(latencies)} | {statistics.median(latencies):.0f} ms "
                      f"| {percentile(latencies, 0.95):.0f} ms | {hit_rate:.0%} |", flush=True)


if __name__ == "__main__":
    main()
