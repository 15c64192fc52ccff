"""Know what it knows: where the held-out questions' answers come from, and the calibration.

    .venv/bin/python bench/answer_sources.py            # the served model (trained if needed)

Parses every held-out question with the model in-process (what the server's NLU does), then
runs the one decision of bot/answering/source.py. The thresholds are swept on the even-numbered
questions of each set (calibration half) and the best setting is reported on the odd-numbered
ones (test half), beside the figures of the thresholds in the code on both halves. The held-out
sets (tests/data/heldout_*.yml) are written apart from the training data and never trained on.
Prints: in-catalog accuracy (a fallback or a question back counts as wrong), the share of
questions outside the catalog answered with a procedure, FAQ top-1 accuracy, routing accuracy,
and the decision's own cost per message (p50/p95).
"""
from __future__ import annotations

import asyncio
import itertools
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.answering import source as decision  # noqa: E402
from bot.answering.directory import SectionDirectory  # noqa: E402
from bot.answering.evaluation import Figures, Outcome, Question, load_questions, score  # noqa: E402
from bot.answering.retrieval import FaqIndex  # noqa: E402
from bot.catalog import load_catalog  # noqa: E402
from bot.catalog.model import Catalog  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.training import ensure_model  # noqa: E402

DATA = ROOT / "tests" / "data"
GRID = {
    "PROCEDURE_CONFIDENT": (0.4, 0.5, 0.6, 0.7, 0.8),
    "FAQ_ANSWER": (0.25, 0.28, 0.31, 0.34, 0.37, 0.4, 0.45),
    "FAQ_OVERRIDES": (0.4, 0.45, 0.5, 0.55, 0.6, 0.7),
    "ROUTE_BY_FAQ": (0.15, 0.2, 0.25, 0.3),
}


class Remembered:
    """The index or directory with its answers remembered: the sweep asks the same texts again."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.memory: Dict[Tuple[str, str], Any] = {}

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def remembered(text: str, *args: Any) -> Any:
            key = (name, text)
            if key not in self.memory:
                self.memory[key] = method(text, *args)
            return self.memory[key]

        return remembered


def as_source(catalog: Catalog, parse: Dict[str, Any], choice: decision.Choice) -> Dict[str, Any]:
    """The source the dialogue action would give this choice (bot/actions/dialogue.py)."""
    intent = (parse.get("intent") or {}).get("name") or "nlu_fallback"
    if choice.kind == "faq":
        return {"source": "faq", "id": choice.faq[0].id, "section": choice.faq[0].section}
    if choice.kind == "faq_choice":
        return {"source": "faq_choice", "ids": [entry.id for entry in choice.faq]}
    if choice.kind == "route" and choice.route is not None:
        return {"source": "route", "section": choice.route.counter.id}
    if choice.kind == "confirm":
        return {"source": "clarify", "id": choice.procedure}
    if choice.kind == "unknown" or intent == "nlu_fallback":
        return {"source": "fallback"}
    if intent in catalog.procedures or intent in catalog.life_events:
        return {"source": "procedure", "id": intent}
    return {"source": "conversation", "intent": intent}


def run(catalog: Catalog, faq: Any, directory: Any,
        parsed: Sequence[Tuple[Question, Dict[str, Any]]]) -> Figures:
    return score([Outcome(q, as_source(catalog, p, decision.choose(catalog, faq, directory, p))) for q, p in parsed])


def objective(figures: Figures) -> float:
    """Confidently wrong answers cost most; then in-catalog answers, FAQ and routing."""
    return (-4 * figures.confident_wrong_share + 2 * figures.in_catalog_accuracy
            + figures.faq_accuracy + figures.routing_accuracy)


def quiet() -> None:
    import logging
    import warnings

    from rasa.utils.log_utils import configure_structlog

    warnings.filterwarnings("ignore")
    configure_structlog(logging.WARNING)  # drops the per-message debug lines of training and parsing
    for name in ("rasa", "tensorflow", "absl", "sanic", "urllib3", "matplotlib", "apscheduler"):
        logging.getLogger(name).setLevel(logging.ERROR)


def main() -> int:
    quiet()
    settings = Settings.from_env()
    model, _, _ = ensure_model(settings, print_fn=lambda line: print(line, file=sys.stderr))
    from rasa.core.agent import Agent

    catalog = load_catalog(settings.catalog_dir)
    loop = asyncio.new_event_loop()
    agent = Agent.load(str(model))
    questions = load_questions(DATA / "heldout_in_catalog.yml") + load_questions(DATA / "heldout_out_of_catalog.yml")
    parsed = [(q, loop.run_until_complete(agent.parse_message(q.text))) for q in questions]
    faq, directory = Remembered(FaqIndex(list(catalog.faq.values()))), Remembered(SectionDirectory(catalog))

    costs: List[float] = []
    for _, parse in parsed:
        started = time.perf_counter()
        decision.choose(catalog, faq, directory, parse)
        costs.append((time.perf_counter() - started) * 1000)
    costs.sort()
    calibration = [item for number, item in enumerate(parsed) if number % 2 == 0]
    test = [item for number, item in enumerate(parsed) if number % 2 == 1]

    print(f"model {model.name}; {len(catalog.faq)} FAQ entries; {len(questions)} held-out questions")
    p95 = costs[int(len(costs) * .95)]
    print(f"decision cost per message: p50 {statistics.median(costs):.2f} ms, p95 {p95:.2f} ms")
    defaults = {name: getattr(decision, name) for name in GRID}
    print(f"\nthresholds in the code {defaults}")
    for label, half in (("calibration half", calibration), ("test half", test), ("all", parsed)):
        print(f"  {label}:")
        for line in run(catalog, faq, directory, half).lines():
            print("    " + line)

    best: Tuple[float, Dict[str, float]] = (float("-inf"), defaults)
    for values in itertools.product(*GRID.values()):
        setting = dict(zip(GRID, values, strict=True))
        for name, value in setting.items():
            setattr(decision, name, value)
        value = objective(run(catalog, faq, directory, calibration))
        if value > best[0]:
            best = (value, setting)
    for name, value in best[1].items():
        setattr(decision, name, value)
    print(f"\nbest on the calibration half {best[1]}; on the test half:")
    figures = run(catalog, faq, directory, test)
    for line in figures.lines():
        print("    " + line)
    for name, value in defaults.items():
        setattr(decision, name, value)
    print("\nmisses with the thresholds in the code (all questions):")
    for miss in run(catalog, faq, directory, parsed).misses:
        print("  " + miss)
    return 0


if __name__ == "__main__":
    sys.exit(main())
