"""The one decision of where a resident's answer comes from (see bot/answering/__init__.py).

The thresholds are calibrated with bench/answer_sources.py on half of the held-out sets and
reported on the other half (docs/benchmarks.md); the tests fail when the reported figures fall
below the issue's bar.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, Tuple

from bot.answering.directory import RouteMatch, SectionDirectory
from bot.answering.retrieval import FaqIndex, FaqMatch
from bot.catalog.model import Catalog, FaqEntry

# A procedure understood at least this surely is answered; below, the resident is asked first.
PROCEDURE_CONFIDENT = 0.6
# …unless the FAQ knows the very question this well and the procedure is not this sure.
FAQ_OVERRIDES = 0.7
PROCEDURE_SURE = 0.95
# The FAQ answers a question outside the procedures from this score on.
FAQ_ANSWER = 0.45
# Two entries this close: the resident chooses between them.
FAQ_CLOSE = 0.04
# Below FAQ_ANSWER but above this, the nearest entry's section is where the question belongs.
ROUTE_BY_FAQ = 0.3
# Questions about the counter (when, where, what to bring) rather than a procedure.
ASPECT_INTENTS = ("counter_hours", "counter_location", "ask_documents", "ask_fee", "ask_deadline", "ask_online")
OUTSIDE_INTENTS = ("out_of_scope", "nlu_fallback")


@dataclass(frozen=True)
class Choice:
    """What answers the message.

    kind: `nlu` (the dialogue answers the understood intent as it always has), `faq` (one
    entry, verbatim), `faq_choice` (two close entries: the resident picks), `confirm` (ask
    whether the middle-band procedure is meant), `route` (the section that handles it), or
    `unknown` (nothing covers it: say so and offer a person).
    """

    kind: str
    procedure: Optional[str] = None
    faq: Tuple[FaqEntry, ...] = ()
    route: Optional[RouteMatch] = None
    score: float = 0.0


def _faq(matches: Sequence[FaqMatch]) -> Choice:
    best = matches[0]
    close = [m for m in matches[1:2] if m.score >= FAQ_ANSWER and best.score - m.score < FAQ_CLOSE]
    if close:
        return Choice("faq_choice", faq=(best.entry, close[0].entry), score=best.score)
    return Choice("faq", faq=(best.entry,), score=best.score)


def choose(catalog: Catalog, faq: FaqIndex, directory: SectionDirectory, parse: Dict[str, Any]) -> Choice:
    """Where the answer to one parsed message (Rasa's parse: text, intent, ranking) comes from."""
    text = parse.get("text") or ""
    intent = (parse.get("intent") or {}).get("name") or "nlu_fallback"
    confidence = float((parse.get("intent") or {}).get("confidence") or 0.0)
    if text.startswith("/"):  # a button says exactly what it means
        return Choice("nlu")
    answerable = intent in catalog.procedures or intent in catalog.life_events
    if not (answerable or intent in ASPECT_INTENTS or intent in OUTSIDE_INTENTS):
        return Choice("nlu")  # greetings, thanks, a person, repeat, yes/no: the dialogue's own
    matches = faq.search(text)
    best = matches[0].score if matches else 0.0
    if answerable:
        if best >= FAQ_OVERRIDES and confidence < PROCEDURE_SURE:
            return _faq(matches)
        if confidence >= PROCEDURE_CONFIDENT:
            return Choice("nlu")
        if best >= FAQ_ANSWER:
            return _faq(matches)
        return Choice("confirm", procedure=intent, score=confidence)
    if intent in ASPECT_INTENTS:
        # 「ごみの収集は祝日もありますか」 is not about the city hall's hours: a matter of a section
        # that handles no procedure is answered from the FAQ or routed there.
        route = directory.route(text)
        procedure_sections = {p.section for p in catalog.procedures.values()}
        if best < FAQ_OVERRIDES and (route is None or route.counter.id in procedure_sections):
            return Choice("nlu")
    if best >= FAQ_ANSWER:
        return _faq(matches)
    route = directory.route(text)
    if route is not None:
        return Choice("route", route=route, score=best)
    if best >= ROUTE_BY_FAQ and matches[0].entry.section in catalog.counters:
        entry = matches[0].entry
        title = catalog.faq_categories[entry.category].title.ja if entry.category in catalog.faq_categories else ""
        return Choice("route", route=RouteMatch(catalog.counters[entry.section], title), score=best)
    return Choice("unknown" if intent == "out_of_scope" else "nlu")
