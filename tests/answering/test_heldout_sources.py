"""Know what it knows (issue 15), measured as residents meet it: every held-out question is sent
over REST to the real server as a new conversation, and the reply's `custom.source` says what
answered it. The held-out sets are written apart from the training data and never trained on
(tests/nlu/test_heldout_apart.py). Figures: docs/benchmarks.md (bench/answer_sources.py)."""
from __future__ import annotations

import sys
import uuid
from typing import Any, Dict, List

import pytest

from bot.answering.evaluation import Figures, evaluate, guides_of, load_questions
from bot.catalog import load_catalog
from bot.settings import PROJECT_ROOT

DATA = PROJECT_ROOT / "tests" / "data"
# The bar of issue 15's "Measure": make test fails below it.
MINIMUM_IN_CATALOG_ACCURACY = 0.95
MAXIMUM_CONFIDENT_WRONG_SHARE = 0.05


@pytest.fixture(scope="module")
def figures(server) -> Figures:
    def ask(text: str) -> List[Dict[str, Any]]:
        return server.say(f"rest:heldout-{uuid.uuid4().hex[:12]}", text)

    questions = load_questions(DATA / "heldout_in_catalog.yml") + load_questions(DATA / "heldout_out_of_catalog.yml")
    result = evaluate(questions, ask, guides_of(load_catalog(PROJECT_ROOT / "intents")))
    print("\n".join(result.lines()), file=sys.stderr)
    for miss in result.misses:
        print("  miss:", miss, file=sys.stderr)
    return result


@pytest.fixture(scope="module")
def fresh(server) -> Figures:
    """The set written later, apart from the tuning (never used to calibrate)."""
    def ask(text: str) -> List[Dict[str, Any]]:
        return server.say(f"rest:fresh-{uuid.uuid4().hex[:12]}", text)

    result = evaluate(load_questions(DATA / "heldout_fresh_out_of_catalog.yml"), ask)
    print("\n".join(result.lines()), file=sys.stderr)
    return result


def test_questions_outside_the_catalog_are_almost_never_answered_with_a_procedure(figures: Figures):
    assert figures.outside >= 300
    assert figures.confident_wrong_share <= MAXIMUM_CONFIDENT_WRONG_SHARE, [
        m for m in figures.misses if m.startswith("out")]


def test_questions_about_the_catalog_are_still_answered(figures: Figures):
    assert figures.in_catalog >= 150
    assert figures.in_catalog_accuracy >= MINIMUM_IN_CATALOG_ACCURACY, [
        m for m in figures.misses if m.startswith("in")]


def test_faq_questions_get_the_citys_answer_and_the_rest_the_right_section(figures: Figures, fresh: Figures):
    # The targets are 0.90 for both, not met yet (measured ≈ 0.78 / 0.80, fresh set ≈ 0.71 /
    # 0.78: docs/benchmarks.md); the test guards against a collapse, not the last point.
    assert figures.faq_labelled >= 150 and figures.faq_accuracy >= 0.72
    assert figures.routed_labelled >= 200 and figures.routing_accuracy >= 0.74
    assert fresh.faq_labelled >= 150 and fresh.faq_accuracy >= 0.65
    assert fresh.routed_labelled >= 200 and fresh.routing_accuracy >= 0.72


def test_the_fresh_set_is_not_answered_with_procedures_either(fresh: Figures):
    assert fresh.outside >= 200 and fresh.confident_wrong_share <= MAXIMUM_CONFIDENT_WRONG_SHARE
    assert fresh.not_city_referred_share <= 0.35


def test_questions_that_are_no_city_matter_are_mostly_not_sent_anywhere(figures: Figures):
    # Weather, chit-chat, prompt injection: an honest "no information", not a random section.
    assert figures.not_city >= 40 and figures.not_city_referred_share <= 0.35
