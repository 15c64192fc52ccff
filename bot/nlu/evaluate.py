"""Evaluate intent classification on the held-out set (never trained on).

Used by the NLU test (fails below 0.90), by `bench/nlu_eval.py` (threshold sweep) and,
later, by the admin console's per-intent precision/recall view.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Tuple

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
    """Precision, recall and support per expected intent."""
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
        report[intent] = {
            "precision": true_pos[intent] / predicted_count[intent] if predicted_count[intent] else 0.0,
            "recall": true_pos[intent] / support[intent],
            "support": support[intent],
        }
    return dict(report)


def sweep(predictions: List[Prediction], thresholds: Iterable[float]) -> List[Tuple[float, float, float]]:
    """(threshold, accuracy, share sent to fallback) for each threshold."""
    rows = []
    for threshold in thresholds:
        fallback = sum(p.predicted(threshold) == FALLBACK for p in predictions) / len(predictions)
        rows.append((threshold, accuracy(predictions, threshold), fallback))
    return rows
