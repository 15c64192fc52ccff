"""Benchmark the speech service: cold and warm synthesis, and pre-synthesis of the catalog.

    .venv/bin/python bench/speech.py                 # Open JTalk (what this machine has offline)
    .venv/bin/python bench/speech.py --runs 20       # more cold samples
    .venv/bin/python bench/speech.py --skip-catalog  # leave out the whole-catalog pre-synthesis

Prints: cold synthesis p50/p95 (wall clock, and CPU of the engine processes) of ~100-character
catalog answers (each a text never spoken before: a fresh cache directory, phone and web
formats), warm (cache hit) p50/p95, and the
time to pre-synthesize every catalog answer (ja + easy, phone + web, one at a time, niced,
as the server does in the background). Everything happens in temporary directories.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Tuple

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.catalog import load_catalog  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.speech import SpeechService  # noqa: E402
from bot.speech.answers import catalog_answers  # noqa: E402
from bot.speech.routes import presynthesize  # noqa: E402


def percentile(values: List[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def hundred_character_answers(answers: List[Tuple[str, str]], count: int) -> List[Tuple[str, str]]:
    """Japanese catalog answers of 80–130 characters (the "100-character answer")."""
    chosen = [(language, text) for language, text in answers if language == "ja" and 80 <= len(text) <= 130]
    return (chosen * (count // max(1, len(chosen)) + 1))[:count]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def cold_and_warm(settings: Settings, samples: List[Tuple[str, str]],
                        phone: bool) -> Tuple[List[float], List[float], List[float]]:
    """Wall-clock seconds cold and warm, and CPU seconds of the engine processes per cold answer
    (the CPU figure does not depend on what else the machine is doing)."""
    cold, warm, cpu = [], [], []
    for language, text in samples:
        # A fresh cache per sample, so a repeated text is cold again.
        with tempfile.TemporaryDirectory() as directory:
            speech = SpeechService(settings, Path(directory))
            started, cpu_before = time.perf_counter(), children_cpu()
            await speech.synthesize(text, language, phone=phone)
            cold.append(time.perf_counter() - started)
            cpu.append(children_cpu() - cpu_before)
            for _ in range(5):
                started = time.perf_counter()
                await speech.synthesize(text, language, phone=phone)
                warm.append(time.perf_counter() - started)
    return cold, warm, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="cold samples per format")
    parser.add_argument("--engine", default="openjtalk", choices=("openjtalk", "auto", "gtts"))
    parser.add_argument("--skip-catalog", action="store_true")
    args = parser.parse_args()

    settings = dataclasses.replace(Settings.from_env(), tts=args.engine)
    catalog = load_catalog(settings.catalog_dir)
    answers = catalog_answers(catalog)
    samples = hundred_character_answers(answers, args.runs)
    mean_chars = statistics.mean(len(text) for _, text in samples)
    print(f"engine {args.engine}, rate {settings.tts_rate}; {len(samples)} answers of ~{mean_chars:.0f} characters")
    for phone in (True, False):
        cold, warm, cpu = asyncio.run(cold_and_warm(settings, samples, phone))
        label = "phone 8 kHz WAV" if phone else "web 22 kHz MP3"
        print(f"{label:16} cold p50 {percentile(cold, .5) * 1000:6.0f} ms  p95 {percentile(cold, .95) * 1000:6.0f} ms"
              f"   warm p50 {percentile(warm, .5) * 1000:5.1f} ms  p95 {percentile(warm, .95) * 1000:5.1f} ms"
              f"   engine CPU p50 {percentile(cpu, .5) * 1000:5.0f} ms")
    if not args.skip_catalog:
        with tempfile.TemporaryDirectory() as directory:
            speech = SpeechService(settings, Path(directory))
            started = time.perf_counter()
            count = asyncio.run(presynthesize(speech, catalog))
            elapsed = time.perf_counter() - started
            size = sum(path.stat().st_size for path in Path(directory).iterdir()) / 1e6
            print(f"pre-synthesis of the catalog: {count} files ({len(answers)} answers × phone + web) in "
                  f"{elapsed:.0f} s ({elapsed / count * 1000:.0f} ms each, niced, one at a time), {size:.0f} MB")


if __name__ == "__main__":
    main()
