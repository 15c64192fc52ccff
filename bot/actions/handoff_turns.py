"""The bot's side of handoff: join the queue, after-hours callback and visit slip, satisfaction."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused

from bot import calendar
from bot.actions.replies import DEFAULT_COUNTER, Reply, ReplyBuilder
from bot.handoff.runtime import service_for
from bot.handoff.slips import Slips, qr_png_data_url, qr_text
from bot.settings import Settings
from bot.store.models import SatisfactionAnswer, utcnow

LAST_MESSAGES = 5


def service():
    return service_for(Settings.from_env().tracker_database_url)


def summary_of(tracker: Tracker, procedure_id: Optional[str], language: str, reason: str, catalog) -> Dict[str, Any]:
    """The bot-made summary a clerk sees in the queue."""
    said = [e.get("text") for e in tracker.events if e.get("event") == "user" and e.get("text")
            and not str(e.get("text")).startswith("/")]
    procedure = catalog.procedures.get(procedure_id or "")
    return {
        "procedure": procedure_id,
        "procedure_title": procedure.title.ja if procedure else None,
        "language": language,
        "reason": reason,
        "slots": {key: tracker.get_slot(key) for key in ("procedure", "language")},
        "last_messages": said[-LAST_MESSAGES:],
    }


def counter_of(builder: ReplyBuilder, procedure_id: Optional[str]):
    procedure = builder.catalog.procedures.get(procedure_id or "")
    section = procedure.section if procedure else DEFAULT_COUNTER
    return builder.catalog.counters.get(section) or builder.catalog.counters[DEFAULT_COUNTER]


def start_handoff(builder: ReplyBuilder, tracker: Tracker, procedure_id: Optional[str], reason: str) -> tuple:
    """(replies, events): queue when the counter is staffed now, otherwise offer a callback or a slip."""
    counter = counter_of(builder, procedure_id)
    if not calendar.is_open(builder.catalog.city, counter, builder.now):
        return [builder.after_hours(counter)], []
    handoffs = service()
    handoffs.request(tracker.sender_id, tracker.get_latest_input_channel() or "rest", counter.id,
                     builder.language, reason, summary_of(tracker, procedure_id, builder.language, reason, builder.catalog))
    return [builder.queue_joined(counter, handoffs.position(tracker.sender_id))], [ConversationPaused()]


def callback_request(builder: ReplyBuilder) -> List[Reply]:
    from bot.actions.replies import Button

    return [Reply([builder.phrase("callback_consent")],
                  [Button(builder.phrase("label_agree"), "/callback_consent"), Button(builder.phrase("label_cancel"), "/deny")])]


def callback_consent(builder: ReplyBuilder, tracker: Tracker, procedure_id: Optional[str]) -> List[Reply]:
    counter = counter_of(builder, procedure_id)
    service().await_input(tracker.sender_id, tracker.get_latest_input_channel() or "rest", counter.id,
                          builder.language, "callback_phone",
                          summary_of(tracker, procedure_id, builder.language, "callback", builder.catalog))
    return [Reply([builder.phrase("callback_ask_phone")])]


def callback_outcome(builder: ReplyBuilder, outcome: str, procedure_id: Optional[str]) -> List[Reply]:
    counter = counter_of(builder, procedure_id)
    if outcome == "registered":
        return [Reply([builder.phrase("callback_registered", section=builder.t(counter.name),
                                      next=builder.next_opening(counter))])]
    if outcome == "invalid_phone":
        return [Reply([builder.phrase("callback_invalid_phone")])]
    return [Reply([builder.phrase("callback_cancelled")])]


def visit_slip(builder: ReplyBuilder, tracker: Tracker, procedure_id: Optional[str]) -> List[Reply]:
    catalog = builder.catalog
    procedure = catalog.procedures.get(procedure_id or "")
    counter = counter_of(builder, procedure_id)
    summary = summary_of(tracker, procedure_id, builder.language, "visit", catalog)
    content = {
        "title": procedure.title.ja if procedure else None,
        "documents": list(procedure.documents.ja) if procedure else [],
        "counter": f"{counter.name.ja}（{counter.place.ja}）",
        "summary": " / ".join(summary["last_messages"][-3:]),
    }
    number = Slips(service().db).create(tracker.sender_id, procedure_id, builder.language, content)
    lines = [builder.phrase("visit_slip", number=number)]
    if procedure:
        lines += [builder.phrase("documents_intro", title=builder.t(procedure.title))]
        lines += [f"□ {item}" for item in procedure.documents.get(builder.language)]
    lines.append(builder.phrase("counter_line", counter=builder.t(counter.name), place=builder.t(counter.place)))
    reply = Reply(lines)
    reply.image = qr_png_data_url(qr_text(number, content))
    return [reply]


def record_satisfaction(tracker: Tracker, score: Any) -> bool:
    try:
        value = int(score)
    except (TypeError, ValueError):
        return False
    if not 1 <= value <= 5:
        return False
    with service().db.session() as session:
        session.add(SatisfactionAnswer(conversation_id=tracker.sender_id, asked_at=utcnow(), score=value))
    return True
