"""The missed-question inbox: resident messages the assistant did not understand, grouped.

Source: the tracker store's own events (no second copy of resident text, so deleting or
purging a conversation removes its questions from the inbox too). A message is "missed"
when NLU fell back (`nlu_fallback`) or its best intent was below `LOW_CONFIDENCE`, or when the
answer was a referral to a section, a question back or "no information" (the `source` of the bot
message, bot/answering): those are candidate FAQ entries. Button payloads (`/intent`) and messages
sent while a person handled the conversation are not.
The text is shown redacted as staff see it (My Numbers, phone numbers masked).

Grouping is deliberately simple and explainable: two messages are alike when their sets of
character bigrams overlap (Jaccard ≥ `SIMILARITY`); a message joins the first group that
has a member alike enough (single link), and each group lists the bigrams all its members
share, so an administrator can see why they were put together.
Dismissed questions are remembered by a hash of their text, never the text itself.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

import sqlalchemy as sa
from sqlalchemy import select

from bot.catalog.model import Catalog
from bot.redaction import mask_phone_numbers, scrub
from bot.store import Database
from bot.store.models import MissedDismissal
from bot.text import example_key

EVENTS_TABLE = "events"  # Rasa's SQLTrackerStore table
LOW_CONFIDENCE = 0.5  # below this the answer was a guess, even if above the fallback threshold
SIMILARITY = 0.3
MAX_EVENTS = 20000  # newest messages looked at (enough for months of a city's traffic)
FALLBACK_INTENT = "nlu_fallback"


def events_table(connection: Any) -> Optional[sa.Table]:
    """Rasa's events table (only the columns we read), or None before Rasa has created it."""
    if not sa.inspect(connection).has_table(EVENTS_TABLE):
        return None
    return sa.Table(EVENTS_TABLE, sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("sender_id", sa.String(255)), sa.Column("type_name", sa.String(255)),
                    sa.Column("timestamp", sa.Float), sa.Column("intent_name", sa.String(255)),
                    sa.Column("data", sa.Text))


def text_hash(text: str) -> str:
    return hashlib.sha256(example_key(text).encode("utf-8")).hexdigest()


def bigrams(text: str) -> Set[str]:
    key = "".join(example_key(text).split())
    return {key[i:i + 2] for i in range(len(key) - 1)} or {key}


def jaccard(a: Set[str], b: Set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


@dataclass
class Missed:
    text: str
    count: int = 0
    guesses: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)  # what the resident got: fallback, route, clarify
    sections: Counter = field(default_factory=Counter)  # where a routed question was sent


@dataclass
class Group:
    members: List[Missed]
    grams: List[Set[str]]

    def as_json(self) -> Dict[str, Any]:
        shared = set.intersection(*self.grams) if self.grams else set()
        guesses: Counter = Counter()
        outcomes: Counter = Counter()
        sections: Counter = Counter()
        for member in self.members:
            guesses.update(member.guesses)
            outcomes.update(member.outcomes)
            sections.update(member.sections)
        key = text_hash(self.members[0].text)[:12]
        return {"id": key, "count": sum(m.count for m in self.members),
                "texts": [{"text": m.text, "count": m.count} for m in self.members],
                "shared": sorted(shared)[:8],
                "suggested_intent": guesses.most_common(1)[0][0] if guesses else None,
                # A question routed to a section or not answered at all is a candidate FAQ entry.
                "outcomes": dict(outcomes),
                "suggested_section": sections.most_common(1)[0][0] if sections else None}


def missed_messages(db: Database, catalog: Catalog) -> List[Missed]:
    """Missed messages, most frequent first, without dismissed ones or ones now in the catalog
    (blocking: call in a worker thread)."""
    known = {example_key(text) for examples in catalog.intent_examples().values()
             for texts in examples.values() for text in texts}
    with db.session() as session:
        dismissed = set(session.scalars(select(MissedDismissal.key)))
        events = events_table(session.connection())
        if events is None:
            return []
        rows = session.execute(
            select(events.c.sender_id, events.c.type_name, events.c.data, events.c.id)
            .where(events.c.type_name.in_(("user", "bot", "pause", "resume")))
            .order_by(events.c.id.desc()).limit(MAX_EVENTS)).all()
    rows = sorted(rows, key=lambda row: (row[0], row[3]))  # each conversation in order
    found: Dict[str, Missed] = {}
    for text, guess, outcome, section in _missed_in(rows):
        key = example_key(text)
        if key in known or text_hash(text) in dismissed:
            continue
        entry = found.setdefault(key, Missed(text))
        entry.count += 1
        entry.outcomes[outcome] += 1
        if guess:
            entry.guesses[guess] += 1
        if section:
            entry.sections[section] += 1
    return sorted(found.values(), key=lambda m: (-m.count, m.text))


# Answers that mean the assistant did not know (bot/answering): the question belongs in the inbox.
NOT_ANSWERED = ("fallback", "route", "clarify")


def _missed_in(rows: Iterable[Tuple[str, str, str, int]]) -> Iterable[Tuple[str, Optional[str], str, Optional[str]]]:
    """(redacted text, best non-fallback intent, outcome, routed section) of each missed message,
    skipping paused spans. Missed: the NLU fell back or guessed (below LOW_CONFIDENCE), or the
    answer was a referral to a section, a question back, or an honest "no information"."""
    paused: Dict[str, bool] = {}
    waiting: Dict[str, Tuple[str, Optional[str], bool]] = {}  # sender → its question awaiting an answer
    for sender_id, type_name, data, _ in rows:
        if type_name in ("pause", "resume"):
            paused[sender_id] = type_name == "pause"
            continue
        if paused.get(sender_id):
            continue
        event = json.loads(data)
        if type_name == "bot":
            source = (event.get("metadata") or {}).get("source")
            if sender_id in waiting and isinstance(source, dict) and source.get("source"):
                text, guess, unsure = waiting.pop(sender_id)
                outcome = str(source["source"])
                if outcome in NOT_ANSWERED or unsure:
                    yield text, guess, outcome if outcome in NOT_ANSWERED else "fallback", source.get("section")
            continue
        unanswered = waiting.pop(sender_id, None)
        if unanswered is not None and unanswered[2]:  # no sourced answer came (older events): a miss
            yield unanswered[0], unanswered[1], "fallback", None
        text = (event.get("text") or "").strip()
        if not text or text.startswith("/"):
            continue
        parse = event.get("parse_data") or {}
        intent = parse.get("intent") or {}
        confidence = intent.get("confidence")
        fell_back = intent.get("name") == FALLBACK_INTENT
        unsure = fell_back or (isinstance(confidence, (int, float)) and confidence < LOW_CONFIDENCE)
        ranking = [r.get("name") for r in parse.get("intent_ranking") or [] if r.get("name") != FALLBACK_INTENT]
        guess = ranking[0] if ranking else (None if fell_back else intent.get("name"))
        waiting[sender_id] = (mask_phone_numbers(scrub(text)), guess, unsure)
    for text, guess, unsure in waiting.values():
        if unsure:
            yield text, guess, "fallback", None


def group(messages: List[Missed], threshold: float = SIMILARITY) -> List[Group]:
    groups: List[Group] = []
    for message in messages:
        grams = bigrams(message.text)
        home = next((g for g in groups if any(jaccard(grams, other) >= threshold for other in g.grams)), None)
        if home is None:
            groups.append(Group([message], [grams]))
        else:
            home.members.append(message)
            home.grams.append(grams)
    return sorted(groups, key=lambda g: -sum(m.count for m in g.members))


def inbox(db: Database, catalog: Catalog) -> List[Dict[str, Any]]:
    return [g.as_json() for g in group(missed_messages(db, catalog))]


def dismiss(db: Database, texts: List[str], actor: str) -> int:
    """Remember `texts` as dismissed (by hash); returns how many were new."""
    added = 0
    with db.session() as session:
        for text in texts:
            key = text_hash(text)
            if session.get(MissedDismissal, key) is None:
                session.add(MissedDismissal(key=key, dismissed_by=actor))
                added += 1
    return added
