"""Evaluate intent classification on the held-out set (never trained on).

Used by the NLU test (fails below 0.90), by `bench/nlu_eval.py` (threshold sweep) and by
the admin console's per-intent precision/recall/F1 view (`report`, stored with each model).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Sequence, Tuple

import yaml

from bot.text import normalize_training

FALLBACK = "nlu_fallback"


@dataclass(frozen=True)
class Prediction:
    text: str
    expected: str
    ranking: Tuple[Tuple[str, float], ...]  # classifier ranking without the fallback entry

    def predicted(self, threshold: float) -> str:
        if not self.ranking or self.ranking[0][1] < threshold:
            return FALLBACK
        return self.ranking[0][0]


def load_heldout(path: Path) -> List[Tuple[str, str]]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return [(normalize_training(item["text"]), item["intent"]) for item in data["examples"]]


def predict_all(examples: Iterable[Tuple[str, str]], parse: Callable[[str], Dict]) -> List[Prediction]:
    predictions = []
    for text, expected in examples:
        result = parse(text)
        ranking = tuple((r["name"], float(r["confidence"])) for r in result.get("intent_ranking", [])
                        if r["name"] != FALLBACK)
        predictions.append(Prediction(text, expected, ranking))
    return predictions


def accuracy(predictions: List[Prediction], threshold: float) -> float:
    correct = sum(p.predicted(threshold) == p.expected for p in predictions)
    return correct / len(predictions) if predictions else 0.0


def per_intent(predictions: List[Prediction], threshold: float) -> Dict[str, Dict[str, float]]:
    """Precision, recall, F1 and support per expected intent."""
    true_pos: Counter = Counter()
    predicted_count: Counter = Counter()
    support: Counter = Counter()
    for p in predictions:
        guess = p.predicted(threshold)
        predicted_count[guess] += 1
        support[p.expected] += 1
        if guess == p.expected:
            true_pos[guess] += 1
    report: Dict[str, Dict[str, float]] = defaultdict(dict)
    for intent in sorted(support):
        precision = true_pos[intent] / predicted_count[intent] if predicted_count[intent] else 0.0
        recall = true_pos[intent] / support[intent]
        report[intent] = {
            "precision": precision,
            "recall": recall,
            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
            "support": support[intent],
        }
    return dict(report)


def macro_f1(report: Dict[str, Dict[str, float]]) -> float:
    """The mean F1 over intents: a rare intent counts as much as a frequent one."""
    return sum(r["f1"] for r in report.values()) / len(report) if report else 0.0


def confused_pairs(predictions: List[Prediction], threshold: float, limit: int = 10) -> List[Dict[str, Any]]:
    """The (expected, predicted) pairs the model mixes up most, with the sentences it missed."""
    pairs: Dict[Tuple[str, str], List[str]] = defaultdict(list)
    for p in predictions:
        guess = p.predicted(threshold)
        if guess != p.expected:
            pairs[(p.expected, guess)].append(p.text)
    ranked = sorted(pairs.items(), key=lambda item: (-len(item[1]), item[0]))[:limit]
    return [{"expected": expected, "predicted": predicted, "count": len(texts), "examples": texts[:3]}
            for (expected, predicted), texts in ranked]


def report(predictions: List[Prediction], threshold: float, heldout: Sequence[str] = ()) -> Dict[str, Any]:
    """Everything the admin console shows about one model (JSON-ready)."""
    intents = per_intent(predictions, threshold)
    return {
        "accuracy": round(accuracy(predictions, threshold), 4),
        "macro_f1": round(macro_f1(intents), 4),
        "examples": len(predictions),
        "threshold": threshold,
        "heldout": list(heldout),
        "per_intent": {intent: {key: round(value, 4) if isinstance(value, float) else value
                                for key, value in row.items()} for intent, row in intents.items()},
        "confused": confused_pairs(predictions, threshold),
    }


def sweep(predictions: List[Prediction], thresholds: Iterable[float]) -> List[Tuple[float, float, float]]:
    """(threshold, accuracy, share sent to fallback) for each threshold."""
    rows = []
    for threshold in thresholds:
        fallback = sum(p.predicted(threshold) == FALLBACK for p in predictions) / len(predictions)
        rows.append((threshold, accuracy(predictions, threshold), fallback))
    return rows
