"""The NLU on the held-out set, over HTTP against the running server (real model)."""
import sys

from bot.catalog import load_catalog
from bot.catalog.compile import FALLBACK_THRESHOLD
from bot.nlu.evaluate import accuracy, load_heldout, per_intent, predict_all
from bot.settings import PROJECT_ROOT
from bot.text import example_key

HELDOUT = PROJECT_ROOT / "tests" / "data" / "nlu_heldout.yml"
MINIMUM_ACCURACY = 0.90


def test_heldout_set_is_large_and_never_trained_on():
    examples = load_heldout(HELDOUT)
    assert len(examples) >= 150
    catalog = load_catalog(PROJECT_ROOT / "intents")
    training = {example_key(text) for ex in catalog.intent_examples().values()
                for texts in ex.values() for text in texts}
    leaked = [text for text, _ in examples if example_key(text) in training]
    assert leaked == []
    known = set(catalog.intent_examples())
    assert {intent for _, intent in examples} <= known
    assert set(catalog.procedures) <= {intent for _, intent in examples}


def test_intent_accuracy_on_heldout_set(server):
    predictions = predict_all(load_heldout(HELDOUT), server.parse)
    score = accuracy(predictions, FALLBACK_THRESHOLD)
    report = per_intent(predictions, FALLBACK_THRESHOLD)
    weak = {intent: round(r["recall"], 2) for intent, r in report.items() if r["recall"] < 0.8}
    misses = [(p.text, p.expected, p.predicted(FALLBACK_THRESHOLD)) for p in predictions
              if p.predicted(FALLBACK_THRESHOLD) != p.expected]
    print(f"held-out accuracy {score:.3f} on {len(predictions)} utterances; weak intents {weak}", file=sys.stderr)
    for miss in misses:
        print("  miss:", miss, file=sys.stderr)
    assert score >= MINIMUM_ACCURACY, f"accuracy {score:.3f} < {MINIMUM_ACCURACY}; misses: {misses[:20]}"
