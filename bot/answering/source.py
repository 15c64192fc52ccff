"""The one decision of where a resident's answer comes from (see bot/answering/__init__.py).

The thresholds are calibrated with bench/answer_sources.py on half of the held-out sets and
reported on the other half (docs/benchmarks.md); the tests fail when the measured figures fall
below the issue's bar.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bot.answering.directory import RouteMatch, SectionDirectory
from bot.answering.retrieval import Match, PhrasingIndex, Reader, faq_index, procedure_index
from bot.catalog.model import Catalog, FaqEntry

# A procedure understood at least this surely is answered; below, the resident is asked first…
PROCEDURE_CONFIDENT = 0.6
# …unless the catalog's nearest phrasing is that very procedure's, this near.
PROCEDURE_AGREES = 0.2
# An FAQ entry that knows the question this well, and this far ahead of every procedure's phrasings
# (the guessed one's and the nearest), wins over a procedure guessed below PROCEDURE_SURE.
FAQ_OVERRIDES = 0.4
FAQ_MARGIN = 0.1
PROCEDURE_SURE = 0.95
# The FAQ answers a question outside the procedures from this score on.
FAQ_ANSWER = 0.22
# Two entries this close: the resident chooses between them.
FAQ_CLOSE = 0.03
# Below FAQ_ANSWER but above this, the nearest entry's section is where the question belongs.
ROUTE_BY_FAQ = 0.2
# The classifier said "not a procedure", but the nearest phrasing in the catalog is a procedure's,
# this near and this far ahead of the FAQ: answered as that procedure (or asked, a bit below).
PROCEDURE_NEAR = 0.35
PROCEDURE_ASK = 0.25
PROCEDURE_MARGIN = 0.0
# Questions about the counter (when, where, what to bring) rather than a procedure.
ASPECT_INTENTS = ("counter_hours", "counter_location", "ask_documents", "ask_fee", "ask_deadline", "ask_online")
OUTSIDE_INTENTS = ("out_of_scope", "nlu_fallback")


@dataclass(frozen=True)
class Knowledge:
    """What the decision looks things up in, built once per catalog (≈2 s: bot/answering/sources.py)."""

    faq: "PhrasingIndex[FaqEntry]"
    procedures: "PhrasingIndex[str]"
    directory: SectionDirectory

    @classmethod
    def of(cls, catalog: Catalog) -> "Knowledge":
        reader = Reader()
        return cls(faq_index(reader, list(catalog.faq.values())), procedure_index(reader, catalog),
                   SectionDirectory(catalog, reader))


@dataclass(frozen=True)
class Choice:
    """What answers the message.

    kind: `nlu` (the dialogue answers the understood intent as it always has), `procedure` (a
    procedure the classifier missed but the catalog's phrasings point to), `faq` (one entry,
    verbatim), `faq_choice` (two close entries: the resident picks), `confirm` (ask whether the
    procedure is meant), `route` (the section that handles it), or `unknown` (nothing covers it:
    say so and offer a person).
    """

    kind: str
    procedure: Optional[str] = None
    faq: Tuple[FaqEntry, ...] = ()
    route: Optional[RouteMatch] = None
    score: float = 0.0


def _faq(matches: Sequence[Match[FaqEntry]]) -> Choice:
    best = matches[0]
    close = [m for m in matches[1:2] if m.score >= FAQ_ANSWER and best.score - m.score < FAQ_CLOSE]
    if close:
        return Choice("faq_choice", faq=(best.item, close[0].item), score=best.score)
    return Choice("faq", faq=(best.item,), score=best.score)


def _top(matches: List[Match[Any]]) -> Tuple[Any, float]:
    return (matches[0].item, matches[0].score) if matches else (None, 0.0)


def choose(catalog: Catalog, knowledge: Knowledge, parse: Dict[str, Any], in_context: Optional[str] = None) -> Choice:
    """Where the answer to one parsed message (Rasa's parse: text, intent, ranking) comes from;
    `in_context`: the procedure the conversation is about (a follow-up 「手数料は？」 asks about it)."""
    text = parse.get("text") or ""
    intent = (parse.get("intent") or {}).get("name") or "nlu_fallback"
    confidence = float((parse.get("intent") or {}).get("confidence") or 0.0)
    if text.startswith("/"):  # a button says exactly what it means
        return Choice("nlu")
    answerable = intent in catalog.procedures or intent in catalog.life_events
    if not (answerable or intent in ASPECT_INTENTS or intent in OUTSIDE_INTENTS):
        return Choice("nlu")  # greetings, thanks, a person, repeat, yes/no: the dialogue's own
    faq = knowledge.faq.search(text)
    _, best = _top(faq)
    procedures = knowledge.procedures.search(text, limit=None)
    nearest, near = _top(procedures)
    if answerable:
        own = next((match.score for match in procedures if match.item == intent), 0.0)
        if best >= FAQ_OVERRIDES and confidence < PROCEDURE_SURE and best - max(own, near) >= FAQ_MARGIN:
            return _faq(faq)
        if confidence >= PROCEDURE_CONFIDENT or (nearest == intent and near >= PROCEDURE_AGREES):
            return Choice("nlu")
        if best >= FAQ_ANSWER and best > near:
            return _faq(faq)
        return Choice("confirm", procedure=intent, score=confidence)
    if intent in ASPECT_INTENTS:
        # 「ごみの収集は祝日もありますか」 is not about the city hall's hours: a matter of a section
        # that handles no procedure is answered from the FAQ or routed there.
        route = knowledge.directory.route(text)
        procedure_sections = {p.section for p in catalog.procedures.values()}
        if route is None or route.counter.id in procedure_sections:
            # 「介護保険の申請の窓口はどこ」: where, when, what to bring — for the procedure it names.
            named = nearest is not None and near >= PROCEDURE_NEAR and near - best >= PROCEDURE_MARGIN
            # …or the section it names handles the nearest procedure (介護保険 → 介護保険課 → 要介護認定).
            nearest_section = catalog.procedures[nearest].section if nearest in catalog.procedures else None
            agreed = route is not None and nearest_section == route.counter.id and near >= PROCEDURE_ASK
            if in_context is None and (named or agreed):
                return Choice("procedure", procedure=nearest, score=near)
            return Choice("nlu")
    elif nearest is not None and near - best >= PROCEDURE_MARGIN:
        # The classifier said "not a procedure"; the catalog's phrasings say a procedure.
        if near >= PROCEDURE_NEAR:
            return Choice("procedure", procedure=nearest, score=near)
        if near >= PROCEDURE_ASK:
            return Choice("confirm", procedure=nearest, score=near)
    if best >= FAQ_ANSWER:
        return _faq(faq)
    route = knowledge.directory.route(text)
    if route is not None:
        return Choice("route", route=route, score=best)
    if best >= ROUTE_BY_FAQ and faq[0].item.section in catalog.counters:
        entry = faq[0].item
        title = catalog.faq_categories[entry.category].title.ja if entry.category in catalog.faq_categories else ""
        return Choice("route", route=RouteMatch(catalog.counters[entry.section], title), score=best)
    return Choice("unknown" if intent == "out_of_scope" else "nlu")
