"""How well the assistant knows what it knows, measured as residents meet it.

Each held-out question is asked as a new conversation; the first message of the reply that
names a source (procedure, FAQ, section, fallback…) is what the resident was answered with.
Used by the test (tests/answering/test_heldout_sources.py: over REST against the real server)
and by bench/answer_sources.py (in-process, with a threshold sweep). The held-out sets
(tests/data/heldout_*.yml) are written apart from the training data and never trained on.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Set

import yaml

from bot.catalog.model import Catalog
from bot.text import normalize_inbound


@dataclass(frozen=True)
class Question:
    text: str
    style: str
    intent: Optional[str] = None  # in-catalog: the procedure or conversation intent meant
    section: Optional[str] = None  # outside the catalog: the section that handles it, if any
    faq: Optional[str] = None  # outside the catalog: the FAQ entry that answers it, if any


def load_questions(path: Path) -> List[Question]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return [Question(normalize_inbound(str(item["text"])), str(item.get("style") or ""), item.get("intent"),
                     item.get("section"), item.get("faq")) for item in data["examples"]]


def source_of(messages: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """The source of a turn's answer: its first message that names one (REST `custom.source`,
    or `source` in an in-process message)."""
    for message in messages:
        source = (message.get("custom") or {}).get("source") or message.get("source")
        if isinstance(source, dict) and source.get("source"):
            return source
    return {"source": "none"}


@dataclass
class Outcome:
    question: Question
    source: Dict[str, Any]
    # Life event → the procedures its guide lists: 「父が亡くなりました。何をすれば」 meant as
    # 死亡届 is answered by the おくやみ guide, whose first step is 死亡届 (a right answer).
    guides: Dict[str, Set[str]] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return str(self.source.get("source"))

    def answered_with_procedure(self) -> bool:
        return self.kind == "procedure"

    def answers_intent(self) -> bool:
        """In-catalog: answered with the meant procedure (or the meant conversation reply)."""
        meant = self.question.intent
        if self.kind == "procedure":
            answered = self.source.get("id")
            return answered == meant or meant in self.guides.get(str(answered), set())
        return self.kind == "conversation" and self.source.get("intent") == meant

    def section(self) -> Optional[str]:
        """The section the resident was pointed to (an FAQ entry's section, or the route)."""
        if self.kind in ("faq", "route"):
            return self.source.get("section")
        return None


@dataclass
class Figures:
    in_catalog: int = 0
    in_catalog_right: int = 0
    in_catalog_asked: int = 0  # the middle band asked about the right procedure
    outside: int = 0
    outside_as_procedure: int = 0
    faq_labelled: int = 0
    faq_top1: int = 0
    faq_offered: int = 0  # the right entry among two offered
    routed_labelled: int = 0
    routed_right: int = 0
    not_city: int = 0  # outside the catalog and no section's matter (weather, chit-chat, injection)
    not_city_referred: int = 0  # …yet answered from the FAQ or sent to a section
    kinds: Counter = field(default_factory=Counter)
    misses: List[str] = field(default_factory=list)

    def share(self, part: int, whole: int) -> float:
        return part / whole if whole else 0.0

    @property
    def in_catalog_accuracy(self) -> float:
        return self.share(self.in_catalog_right, self.in_catalog)

    @property
    def confident_wrong_share(self) -> float:
        return self.share(self.outside_as_procedure, self.outside)

    @property
    def faq_accuracy(self) -> float:
        return self.share(self.faq_top1, self.faq_labelled)

    @property
    def routing_accuracy(self) -> float:
        return self.share(self.routed_right, self.routed_labelled)

    @property
    def not_city_referred_share(self) -> float:
        return self.share(self.not_city_referred, self.not_city)

    def lines(self) -> List[str]:
        return [
            f"in-catalog accuracy      {self.in_catalog_accuracy:.3f} ({self.in_catalog_right}/{self.in_catalog}; "
            f"asked instead: {self.in_catalog_asked})",
            f"outside answered as a procedure {self.confident_wrong_share:.3f} "
            f"({self.outside_as_procedure}/{self.outside})",
            f"FAQ top-1 accuracy       {self.faq_accuracy:.3f} ({self.faq_top1}/{self.faq_labelled}; "
            f"right entry offered of two: {self.faq_offered})",
            f"routing accuracy         {self.routing_accuracy:.3f} ({self.routed_right}/{self.routed_labelled})",
            f"not a city matter, yet referred {self.not_city_referred_share:.3f} "
            f"({self.not_city_referred}/{self.not_city})",
            "answers outside the catalog by source: " + ", ".join(f"{k} {v}" for k, v in self.kinds.most_common()),
        ]


def score(outcomes: Sequence[Outcome]) -> Figures:
    figures = Figures()
    for outcome in outcomes:
        question = outcome.question
        if question.intent:
            figures.in_catalog += 1
            if outcome.answers_intent():
                figures.in_catalog_right += 1
            else:
                if outcome.kind == "clarify" and outcome.source.get("id") == question.intent:
                    figures.in_catalog_asked += 1
                figures.misses.append(f"in  {question.text!r} → {outcome.source} (meant {question.intent})")
            continue
        figures.outside += 1
        figures.kinds[outcome.kind] += 1
        if outcome.answered_with_procedure():
            figures.outside_as_procedure += 1
            figures.misses.append(f"out {question.text!r} → {outcome.source}")
        if question.faq:
            figures.faq_labelled += 1
            if outcome.kind == "faq" and outcome.source.get("id") == question.faq:
                figures.faq_top1 += 1
            elif outcome.kind == "faq_choice" and question.faq in (outcome.source.get("ids") or ()):
                figures.faq_offered += 1
            else:
                figures.misses.append(f"faq {question.text!r} → {outcome.source} (meant {question.faq})")
        if not question.section and not question.faq:
            figures.not_city += 1
            if outcome.kind in ("faq", "faq_choice", "route"):
                figures.not_city_referred += 1
                figures.misses.append(f"nc  {question.text!r} → {outcome.source}")
        if question.section:
            figures.routed_labelled += 1
            if outcome.section() == question.section:
                figures.routed_right += 1
            elif not question.faq:
                figures.misses.append(f"sec {question.text!r} → {outcome.source} (meant {question.section})")
    return figures


def guides_of(catalog: Catalog) -> Dict[str, Set[str]]:
    """Each life event's guide: the procedures among its steps."""
    return {eid: {step.procedure for step in event.steps if step.procedure}
            for eid, event in catalog.life_events.items()}


def evaluate(questions: Sequence[Question], ask: Callable[[str], Sequence[Dict[str, Any]]],
             guides: Optional[Dict[str, Set[str]]] = None) -> Figures:
    """`ask(text)` sends one message as a new conversation and returns the reply's messages."""
    return score([Outcome(question, source_of(ask(question.text)), guides or {}) for question in questions])
