"""The bot's side of handoff: join the queue, after-hours callback and visit slip, satisfaction.

The action runs on Rasa's event loop (bot.actions.inprocess awaits it there), so every
database call and the QR image run in a worker thread (`asyncio.to_thread`). The handoff
service is the server's own (`HandoffService`), handed in by the dialogue action.
"""
from __future__ import annotations

from asyncio import to_thread
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused

from bot import opening_hours
from bot.clock import real_utcnow
from bot.handoff.machine import AWAITING_PHONE, HandoffService, QueuePosition
from bot.handoff.slips import Slips, qr_png_data_url, qr_text
from bot.replies import Button, Reply, ReplyBuilder
from bot.store.models import SatisfactionAnswer

LAST_MESSAGES = 5


class HandoffTurn(NamedTuple):
    """What the action says and the events it returns when a resident asks for a person."""

    replies: List[Reply]
    events: List[Dict[str, Any]]


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


async def start_handoff(handoffs: HandoffService, builder: ReplyBuilder, tracker: Tracker, procedure_id: Optional[str], reason: str) -> "HandoffTurn":
    """Queue when the counter is staffed now, otherwise offer a callback or a slip."""
    counter = builder.catalog.counter_for(procedure_id)
    if not opening_hours.is_open(builder.catalog.city, counter, builder.now):
        return HandoffTurn([builder.after_hours(counter)], [])
    summary = summary_of(tracker, procedure_id, builder.language, reason, builder.catalog)

    def join_queue() -> Optional[QueuePosition]:
        handoffs.request(tracker.sender_id, tracker.get_latest_input_channel() or "rest", counter.id,
                         builder.language, reason, summary)
        return handoffs.position(tracker.sender_id)

    position = await to_thread(join_queue)
    return HandoffTurn([builder.queue_joined(counter, position)], [ConversationPaused()])


def callback_request(builder: ReplyBuilder) -> List[Reply]:
    return [Reply([builder.phrase("callback_consent")],
                  [Button(builder.phrase("label_agree"), "/callback_consent"), Button(builder.phrase("label_cancel"), "/deny")])]


async def callback_consent(handoffs: HandoffService, builder: ReplyBuilder, tracker: Tracker, procedure_id: Optional[str]) -> List[Reply]:
    counter = builder.catalog.counter_for(procedure_id)
    summary = summary_of(tracker, procedure_id, builder.language, "callback", builder.catalog)
    await to_thread(lambda: handoffs.await_input(tracker.sender_id, tracker.get_latest_input_channel() or "rest",
                                                  counter.id, builder.language, AWAITING_PHONE, summary))
    return [Reply([builder.phrase("callback_ask_phone")])]


def callback_outcome(builder: ReplyBuilder, outcome: str, procedure_id: Optional[str]) -> List[Reply]:
    """What the gate did with the answer to 「電話番号を入力してください」."""
    counter = builder.catalog.counter_for(procedure_id)
    if outcome == "registered":
        return [Reply([builder.phrase("callback_registered", section=builder.t(counter.name),
                                      next=builder.next_opening(counter))])]
    if outcome == "invalid_phone":  # asked once more, with a way out
        return [Reply([builder.phrase("callback_invalid_phone")],
                      [Button(builder.phrase("label_stop_callback"), "/cancel_handoff")])]
    return [Reply([builder.phrase("callback_cancelled")])]  # cancelled, or a second unreadable answer


async def stop_waiting_for_phone(handoffs: HandoffService, tracker: Tracker) -> None:
    """The resident moved on to another question: the call-back is not taken."""
    await to_thread(handoffs.clear_awaiting, tracker.sender_id)


async def visit_slip(handoffs: HandoffService, builder: ReplyBuilder, tracker: Tracker, procedure_id: Optional[str]) -> List[Reply]:
    """A slip number and a QR code; the QR carries the number, procedure and checklist only.

    The resident's own words (the summary) stay in the database, for staff to look up by number:
    a QR code is read by any phone, so it must never carry free text."""
    catalog = builder.catalog
    procedure = catalog.procedures.get(procedure_id or "")
    counter = builder.catalog.counter_for(procedure_id)
    summary = summary_of(tracker, procedure_id, builder.language, "visit", catalog)
    content = {
        "title": procedure.title.ja if procedure else None,
        "documents": list(procedure.documents.ja) if procedure else [],
        "counter": f"{counter.name.ja}（{counter.place.ja}）",
        "summary": " / ".join(summary["last_messages"][-3:]),
    }

    def make_slip() -> Tuple[str, str]:
        number = Slips(handoffs.db).create(tracker.sender_id, procedure_id, builder.language, content)
        return number, qr_png_data_url(qr_text(number, content))

    number, image = await to_thread(make_slip)
    lines = [builder.phrase("visit_slip", number=number)]
    if procedure:
        lines += [builder.phrase("documents_intro", title=builder.t(procedure.title))]
        lines += [f"□ {item}" for item in procedure.documents.get(builder.language)]
    lines.append(builder.phrase("counter_line", counter=builder.t(counter.name), place=builder.t(counter.place)))
    reply = Reply(lines)
    reply.image = image
    return [reply]


async def record_satisfaction(handoffs: HandoffService, tracker: Tracker, score: Any) -> bool:
    try:
        value = int(score)
    except (TypeError, ValueError):
        return False
    if not 1 <= value <= 5:
        return False

    def store() -> None:
        with handoffs.db.session() as session:
            session.add(SatisfactionAnswer(conversation_id=tracker.sender_id, asked_at=real_utcnow(), score=value))

    await to_thread(store)
    return True
