"""The page's transcript, built from the tracker: the single source of truth for what it shows.

Every message carries its tracker timestamp as id (`u…`/`b…`) and cursor, so restoring after
a reload, catching up after a reconnect and pushing staff replies are the same operation.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional

from rasa.shared.core.constants import EXTERNAL_MESSAGE_PREFIX

from channels.web.furigana import auto_ruby

MAX_HISTORY = 300  # messages sent at once to a page


def message_from_event(event: Any) -> Optional[Dict[str, Any]]:
    """One transcript entry from a tracker event; None for events the page does not show."""
    type_name = getattr(event, "type_name", None)
    if type_name == "user":
        # "EXTERNAL: …" events are intents triggered by the server (reminders, APIs), not the resident.
        if not event.text or event.text.startswith(EXTERNAL_MESSAGE_PREFIX):
            return None
        entry = {"id": f"u{event.timestamp!r}", "ts": event.timestamp, "role": "user", "text": event.text}
        metadata = event.metadata or {}
        if isinstance(metadata.get("title"), str):
            entry["title"] = metadata["title"]
        if event.message_id:
            entry["client_id"] = event.message_id
        return entry
    if type_name == "bot":
        data, metadata = event.data or {}, event.metadata or {}
        if not event.text and not data.get("buttons"):
            return None
        return dict(shape_message({**data, **metadata, "text": event.text}),
                    id=f"b{event.timestamp!r}", ts=event.timestamp)
    return None


def shape_message(message: Mapping[str, Any]) -> Dict[str, Any]:
    """What the page needs of one bot message (same keys as a REST reply, plus `staff`)."""
    staff = message.get("staff")
    shaped: Dict[str, Any] = {"role": "staff" if staff else "bot", "text": message.get("text") or ""}
    for key in ("lang", "variant", "ruby"):
        if isinstance(message.get(key), str) and message[key]:
            shaped[key] = message[key]
    if "ruby" not in shaped and shaped.get("lang") == "ja" and shaped.get("variant", "ja") == "ja":
        # Standard Japanese has no furigana in the catalog; readings from the dictionary
        # let the page's furigana toggle help a reader who knows kana but few kanji.
        ruby = auto_ruby(shaped["text"])
        if ruby:
            shaped["ruby"] = ruby
    buttons = [
        {"title": str(b.get("title") or ""), "payload": str(b.get("payload") or "")}
        for b in (message.get("buttons") or []) if isinstance(b, dict) and b.get("payload")
    ]
    if buttons:
        shaped["buttons"] = buttons
    if staff:
        shaped["staff"] = {"name": str(staff.get("name") or "")} if isinstance(staff, dict) else {"name": ""}
    custom: Mapping[str, Any] = message["custom"] if isinstance(message.get("custom"), dict) else {}
    link = message.get("link") or custom.get("link")
    if isinstance(link, dict) and str(link.get("url") or "").startswith(("https://", "http://")):
        shaped["link"] = {"title": str(link.get("title") or link["url"]), "url": str(link["url"])}
    source = message.get("source") or custom.get("source")
    if isinstance(source, dict) and isinstance(source.get("source"), str):
        shaped["source"] = source
    image = message.get("image")
    if isinstance(image, str) and image.startswith("data:image/png;base64,"):
        shaped["image"] = image  # e.g. a visit slip's QR code; only inline PNGs (the page's CSP allows data:)
    return shaped


def transcript(events: Iterable[Any], after: float = 0.0) -> List[Dict[str, Any]]:
    """User and bot messages newer than `after`, oldest first.

    A button press is stored as its payload (`/request_human`); the page shows the
    button's title instead, from the message metadata or else from the buttons offered.
    """
    offered: Dict[str, str] = {}
    result: List[Dict[str, Any]] = []
    for event in events:
        entry = message_from_event(event)
        if entry is None:
            continue
        if entry["role"] == "user":
            if entry["text"].startswith("/") and "title" not in entry and entry["text"] in offered:
                entry["title"] = offered[entry["text"]]
            offered = {}
        elif entry.get("buttons"):  # the buttons of every message of the bot's last turn
            offered.update({b["payload"]: b["title"] for b in entry["buttons"]})
        if entry["ts"] > after:
            result.append(entry)
    return result[-MAX_HISTORY:]


def latest_cursor(after: float, messages: List[Dict[str, Any]]) -> float:
    """The cursor after sending `messages` to a page that had seen up to `after`."""
    return max([after] + [m["ts"] for m in messages])


def unstored(collected: List[Dict[str, Any]], stored: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Replies that went to the output channel but not into the tracker (sent as-is)."""
    remaining = [m["text"] for m in stored if m["role"] != "user"]
    result = []
    for reply in collected:
        shaped = shape_message(reply)
        if shaped["text"] in remaining:
            remaining.remove(shaped["text"])
        elif shaped["text"] or shaped.get("buttons"):
            result.append(shaped)
    return result
