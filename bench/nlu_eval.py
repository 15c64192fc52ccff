"""Benchmark an NLU pipeline: train it on the catalog, score it on the held-out set.

    .venv/bin/python bench/nlu_eval.py                      # the current PIPELINE_CONFIG
    .venv/bin/python bench/nlu_eval.py --variant diet       # one of VARIANTS below
    .venv/bin/python bench/nlu_eval.py --config my.yml      # any Rasa config ({threshold} is filled in)
    .venv/bin/python bench/nlu_eval.py --list               # list the variants

Everything happens in a temporary directory (build files and model); nothing in build/ or
models/ is touched and no server is needed (the model is loaded in-process). Prints the
training time, held-out accuracy at the threshold, per-intent recall of weak intents, a
threshold sweep and the top confidence for nonsense inputs, which should all end up
below the fallback threshold. The held-out set is only ever predicted, never trained on.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Dict, List, Optional

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.catalog import load_catalog  # noqa: E402
from bot.catalog.compile import (  # noqa: E402
    CONFIG_HEAD, CONFIG_TAIL, FALLBACK_THRESHOLD, PIPELINE_CONFIG, compile_catalog,
)
from bot.text import normalize_training  # noqa: E402
from bot.nlu.evaluate import FALLBACK, Prediction, accuracy, load_heldout, per_intent, predict_all, sweep  # noqa: E402

HELDOUT = ROOT / "tests" / "data" / "nlu_heldout.yml"

# Inputs that mean nothing: all of them should fall under the fallback threshold.
GIBBERISH = [
    "ぴよぴよ ふがふが ほげほげ",
    "あああああ",
    "xyzzy",
    "😀😀😀",
    "ｗｗｗ",
    "asdfghjkl",
    "qwertyuiop",
    "ほげほげ",
    "もにゃもにゃ ぷるぷる",
    "ぬぬぬぬぬ",
    "zzzzzz",
    "kjh lkj qpwo",
    "🙏🙏",
    "ーーーー",
    "ふがが ぴろりん",
    "ﾎﾟﾎﾟﾎﾟ",
]

_HEAD, _TAIL = CONFIG_HEAD, CONFIG_TAIL
_TOKENIZER = "  - name: bot.nlu.japanese_tokenizer.FugashiJapaneseTokenizer\n"
_WORDS = "  - name: CountVectorsFeaturizer\n"
_CHARS = "  - name: CountVectorsFeaturizer\n    analyzer: char_wb\n    min_ngram: {lo}\n    max_ngram: {hi}\n"
# Character n-grams of the katakana reading the tokenizer stores per token ("reading").
_READINGS = "  - name: bot.nlu.japanese_tokenizer.KanaReadingFeaturizer\n    min_ngram: 2\n    max_ngram: 4\n"
# Scales confidences down for messages made of words never seen in training (nonsense).
_GUARD = "  - name: bot.nlu.japanese_tokenizer.VocabularyGuard\n    min_coverage: 0.4\n"


def _lr() -> str:
    # Rasa 3.6's LogisticRegressionClassifier passes only max_iter/solver/tol/random_state
    # to sklearn: a `C` in the config is silently ignored (always C=1.0, balanced classes).
    return "  - name: LogisticRegressionClassifier\n    max_iter: 500\n    solver: lbfgs\n"


def _diet(epochs: int, layers: int = 2, size: int = 256) -> str:
    return (
        "  - name: DIETClassifier\n"
        f"    epochs: {epochs}\n"
        f"    number_of_transformer_layers: {layers}\n"
        f"    transformer_size: {size}\n"
        "    entity_recognition: false\n"
        "    constrain_similarities: true\n"
        "    model_confidence: softmax\n"
        "    random_seed: 42\n"
    )


def _chars(lo: int = 1, hi: int = 3) -> str:
    return _CHARS.format(lo=lo, hi=hi)


_FEATURES = _TOKENIZER + _WORDS + _chars(1, 3)
VARIANTS: Dict[str, str] = {
    # the pipeline before 2026-11 (held-out 0.907, nonsense confidently classified)
    "lr": _HEAD + _FEATURES + _lr() + _TAIL,
    "diet80": _HEAD + _FEATURES + _diet(80) + _TAIL,
    "lr_reading_guard": _HEAD + _FEATURES + _READINGS + _lr() + _GUARD + _TAIL,
    # chosen 2026-11-23 (= PIPELINE_CONFIG in bot/catalog/compile.py)
    "diet60_small_reading_guard": _HEAD + _FEATURES + _READINGS + _diet(60, 1, 128) + _GUARD + _TAIL,
}


def log(message: str) -> None:
    print(f"[nlu_eval {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _quiet() -> None:
    from rasa.utils.log_utils import configure_structlog

    warnings.filterwarnings("ignore")
    configure_structlog(logging.WARNING)  # drops the per-message "processor.message.parse" lines
    for name in ("rasa", "tensorflow", "absl", "sanic", "urllib3", "matplotlib", "apscheduler"):
        logging.getLogger(name).setLevel(logging.ERROR)


def train_model(pipeline: Optional[str], threshold: float, workdir: Path) -> tuple:
    """Compile the catalog with `pipeline` into workdir and train; returns (model path, seconds)."""
    from rasa.model_training import train

    catalog = load_catalog(ROOT / "intents")
    files = compile_catalog(catalog, workdir / "build", threshold=threshold, pipeline=pipeline)
    log(f"compiled {sum(len(v) for e in catalog.intent_examples().values() for v in e.values())} examples "
        f"for {len(catalog.intent_examples())} intents; training …")
    started = time.monotonic()
    result = train(
        domain=str(files["domain"]),
        config=str(files["config"]),
        training_files=[str(files["nlu"]), str(files["rules"])],
        output=str(workdir / "models"),
        fixed_model_name="bench",
        force_training=True,
    )
    seconds = time.monotonic() - started
    if result.code != 0 or not result.model:
        raise RuntimeError(f"training failed (code {result.code})")
    log(f"trained in {seconds:.1f} s")
    return Path(result.model), seconds


def load_parser(model: Path):
    """A synchronous parse(text) -> dict around an in-process Agent."""
    from rasa.core.agent import Agent

    loop = asyncio.new_event_loop()
    agent = Agent.load(str(model))

    def parse(text: str) -> dict:
        return loop.run_until_complete(agent.parse_message(text))

    return parse


def top(prediction: Prediction) -> tuple:
    return prediction.ranking[0] if prediction.ranking else (FALLBACK, 0.0)


def evaluate(pipeline: Optional[str] = None, threshold: float = FALLBACK_THRESHOLD, name: str = "current",
             show_misses: bool = True) -> dict:
    """Train `pipeline` (None = PIPELINE_CONFIG), evaluate, print a report; returns the numbers."""
    _quiet()
    log(f"variant {name}, fallback threshold {threshold}")
    with tempfile.TemporaryDirectory(prefix="nlu_eval_") as tmp:
        model, seconds = train_model(pipeline, threshold, Path(tmp))
        log("loading model …")
        parse = load_parser(model)
        heldout = load_heldout(HELDOUT)
        log(f"predicting {len(heldout)} held-out utterances …")
        started = time.monotonic()
        predictions = predict_all(heldout, parse)
        per_utterance_ms = 1000 * (time.monotonic() - started) / max(len(heldout), 1)
        log(f"predicting {len(GIBBERISH)} nonsense inputs …")
        nonsense = predict_all([(normalize_training(t), FALLBACK) for t in GIBBERISH], parse)

    score = accuracy(predictions, threshold)
    report = per_intent(predictions, threshold)
    print(f"\n== {name}: trained in {seconds:.1f} s, {per_utterance_ms:.1f} ms/parse")
    print(f"held-out accuracy at threshold {threshold}: {score:.3f} ({len(predictions)} utterances, "
          f"fallback counted as wrong)")

    weak = {i: r for i, r in report.items() if r["recall"] < 0.9}
    print("\nweak intents (recall < 0.90):")
    for intent, r in sorted(weak.items(), key=lambda kv: kv[1]["recall"]):
        print(f"  {intent:34s} recall {r['recall']:.2f}  precision {r['precision']:.2f}  n={r['support']}")
    if not weak:
        print("  none")

    if show_misses:
        print("\nmisses:")
        for p in predictions:
            guess = p.predicted(threshold)
            if guess != p.expected:
                intent, confidence = top(p)
                print(f"  {p.text!r}: expected {p.expected}, got {guess} ({intent} {confidence:.2f})")

    thresholds = [0.0, 0.1, 0.15, 0.18, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7]
    if threshold not in thresholds:
        thresholds = sorted(thresholds + [threshold])
    print("\nthreshold sweep:  threshold  accuracy  held-out→fallback  nonsense caught")
    rows = []
    for (t, acc, fallback_share) in sweep(predictions, thresholds):
        caught = sum(p.predicted(t) == FALLBACK for p in nonsense)
        rows.append({"threshold": t, "accuracy": acc, "fallback": fallback_share, "nonsense_caught": caught})
        print(f"                  {t:9.2f}  {acc:8.3f}  {fallback_share:17.3f}  {caught:>6d}/{len(nonsense)}")

    print(f"\nnonsense inputs (should be < {threshold}):")
    for p in nonsense:
        intent, confidence = top(p)
        flag = "ok  " if confidence < threshold else "LEAK"
        print(f"  {flag} {confidence:.2f} {intent:28s} {p.text!r}")
    max_nonsense = max(top(p)[1] for p in nonsense)
    real_confidences = sorted(top(p)[1] for p in predictions if top(p)[0] == p.expected)
    print(f"\nhighest nonsense confidence {max_nonsense:.3f}; correct held-out predictions below it: "
          f"{sum(c <= max_nonsense for c in real_confidences)}/{len(predictions)}")
    caught = sum(top(p)[1] < threshold for p in nonsense)
    print(f"summary: {name} | train {seconds:.1f} s | accuracy {score:.3f} @ {threshold} | "
          f"nonsense caught {caught}/{len(nonsense)}")
    return {
        "name": name, "train_seconds": round(seconds, 1), "threshold": threshold, "accuracy": score,
        "nonsense_caught": caught, "nonsense_max": max_nonsense, "sweep": rows,
        "weak": {i: round(r["recall"], 3) for i, r in weak.items()},
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--variant", choices=sorted(VARIANTS), help="a predefined pipeline")
    source.add_argument("--config", type=Path, help="a Rasa config file ({threshold} is replaced)")
    source.add_argument("--list", action="store_true", help="list the predefined variants and exit")
    parser.add_argument("--threshold", type=float, default=FALLBACK_THRESHOLD,
                        help=f"fallback threshold to score at (default {FALLBACK_THRESHOLD})")
    parser.add_argument("--no-misses", action="store_true", help="do not list misclassified utterances")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args(argv)
    if args.list:
        for name, config in VARIANTS.items():
            print(f"--- {name}\n{config}")
        return 0
    if args.variant:
        name, pipeline = args.variant, VARIANTS[args.variant]
    elif args.config:
        name, pipeline = args.config.stem, args.config.read_text(encoding="utf-8")
    else:
        name, pipeline = "current", PIPELINE_CONFIG
    result = evaluate(pipeline, args.threshold, name, show_misses=not args.no_misses)
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
