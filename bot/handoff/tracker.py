"""What a handoff does to the Rasa conversation (tracker events), under the conversation lock."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa.shared.core.events import ActionExecuted, BotUttered, ConversationPaused, ConversationResumed, Event

from bot.messages import BotMessage

ACTION_LISTEN = "action_listen"


async def append_events(agent: Any, conversation_id: str, events: List[Event]) -> None:
    async with agent.lock_store.lock(conversation_id):
        tracker = await agent.tracker_store.get_or_create_tracker(conversation_id)
        for event in events:
            tracker.update(event)
        await agent.tracker_store.save(tracker)


async def pause(agent: Any, conversation_id: str) -> None:
    await append_events(agent, conversation_id, [ConversationPaused()])


async def resume(agent: Any, conversation_id: str, message: Optional[BotMessage] = None) -> None:
    """Hand back to the bot: `resume` **and** `action_listen`, otherwise the next
    message falls back and re-pauses."""
    events: List[Event] = [ConversationResumed(), ActionExecuted(ACTION_LISTEN)]
    if message:
        events.append(bot_event(message))
    await append_events(agent, conversation_id, events)


def bot_event(message: BotMessage) -> BotUttered:
    """A bot event from a message dict shaped like a REST reply (text, buttons, lang, …)."""
    data = {key: message.get(key) for key in ("buttons", "image", "custom", "attachment", "elements", "quick_replies")}
    metadata = {key: value for key, value in message.items() if key not in data and key != "text" and value is not None}
    return BotUttered(message.get("text"), data=data, metadata=metadata)


async def append_bot_message(agent: Any, conversation_id: str, message: BotMessage) -> None:
    await append_events(agent, conversation_id, [bot_event(message)])


async def transcript(agent: Any, conversation_id: str) -> List[Dict[str, Any]]:
    """User and bot messages, oldest first (texts were redacted on the way in)."""
    tracker = await agent.tracker_store.retrieve(conversation_id)
    if tracker is None:
        return []
    lines: List[Dict[str, Any]] = []
    for event in tracker.events:
        if event.type_name == "user":
            # A button press is stored as its payload; show what the resident tapped.
            title = (event.metadata or {}).get("title")
            text = title if isinstance(title, str) and (event.text or "").startswith("/") else event.text
            line = {"from": "resident", "text": text, "at": event.timestamp,
                    "intent": (event.intent or {}).get("name")}
            if (event.metadata or {}).get("input") == "speech":  # the phone: a recognizer's reading
                line["heard"] = {"confidence": (event.metadata or {}).get("confidence")}
            lines.append(line)
        elif event.type_name == "bot":
            staff = (event.metadata or {}).get("staff")
            line = {"from": "staff" if staff else "bot", "text": event.text, "at": event.timestamp,
                    "staff": staff, "lang": (event.metadata or {}).get("lang")}
            source = (event.metadata or {}).get("source")
            if isinstance(source, dict):  # which procedure, FAQ entry or section answered (bot/answering)
                line["source"] = source
            lines.append(line)
        elif event.type_name in ("pause", "resume"):
            lines.append({"from": "system", "text": event.type_name, "at": event.timestamp})
    return lines

