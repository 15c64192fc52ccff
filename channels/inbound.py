"""What every channel does to a resident's text before Rasa sees it, and whose conversation it is."""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Dict, Optional

from bot import senders
from bot.redaction import clean_inbound, redact_metadata

SENDER_PATTERN = re.compile(r"^[A-Za-z0-9_.:@\-]{1,128}$")
# Metadata keys the server sets itself; a client must not be able to forge them.
# The handoff gate answers through `callback` and `handoff`: a client must not fake those answers.
RESERVED_METADATA = {"redacted", "staff", "channel_user", "callback", "handoff"}

# Each channel owns a namespace of conversation ids (`telegram:<chat id>`, …) and only that
# channel writes to it: a REST client must never act as a Telegram or LINE resident. The
# namespaces are the channels of bot/senders.py (with their legacy prefixes, e.g. `web-<hex>`).

# Client metadata is stored with every message: keep it small and shallow.
MAX_METADATA_KEYS = 20  # per object
MAX_METADATA_KEY_CHARS = 64
MAX_METADATA_LIST_ITEMS = 20
MAX_METADATA_DEPTH = 3  # the metadata object itself is depth 1
MAX_METADATA_BYTES = 4096  # serialized as UTF-8 JSON


class InboundError(ValueError):
    """A message that cannot be accepted; `code` is stable for clients, `message` is for people.

    A refusal a resident may read (`message_too_long`, `empty_message`) says the catalog's
    `notice_<code>` phrase instead of `message`, filled in with `values` (channels/base.py)."""

    def __init__(self, code: str, message: str, status: int = 400, values: Optional[Dict[str, Any]] = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.values: Dict[str, Any] = dict(values or {})

    def as_json(self) -> Dict[str, Any]:
        return {"error": self.code, "message": self.message}


@dataclass(frozen=True)
class Inbound:
    text: str
    metadata: Dict[str, Any]


def prepare(text: Any, max_chars: int, metadata: Optional[Dict[str, Any]] = None) -> Inbound:
    """Validate, normalize (NFKC) and redact one inbound message."""
    if not isinstance(text, str):
        raise InboundError("invalid_message", "`message` must be a string.")
    if "\x00" in text:
        raise InboundError("invalid_message", "The message contains binary data.")
    if len(text) > max_chars:
        raise InboundError("message_too_long",
                           f"The message is too long ({len(text)} characters; at most {max_chars}).",
                           status=413, values={"count": len(text), "max_chars": max_chars})
    redaction = clean_inbound(text)
    if not redaction.text:
        raise InboundError("empty_message", "The message is empty.")
    # Metadata is stored with the event and copied into the session_started_metadata slot.
    clean_metadata, metadata_findings = redact_metadata(
        {k: v for k, v in check_metadata(metadata).items() if k not in RESERVED_METADATA})
    findings = list(dict.fromkeys(redaction.findings + metadata_findings))
    if findings:
        clean_metadata["redacted"] = findings
    return Inbound(redaction.text, clean_metadata)


def check_sender(sender: Any) -> str:
    if not isinstance(sender, str) or not SENDER_PATTERN.match(sender):
        raise InboundError("invalid_sender", "`sender` must be 1–128 letters, digits or . _ - : @")
    return sender


def sender_prefix(channel: str) -> str:
    """`telegram` → `telegram:`, the start of every conversation id the channel owns."""
    if channel not in senders.channel_names():
        raise ValueError(f"unknown channel namespace: {channel!r}")
    return f"{channel}:"


def namespace_of(sender: str) -> Optional[str]:
    """The channel whose namespace a conversation id is in (None for a bare id)."""
    lowered = sender.lower()  # `Telegram:1` must not slip past a case-insensitive database
    return senders.owner_of(lowered)


def namespaced_sender(channel: str, raw: Any) -> str:
    """The conversation id `channel` uses for its user `raw`: `<channel>:<raw>`.

    An id already in the channel's own namespace is kept as it is (never double-prefixed);
    one in another channel's namespace is refused with 403, because only that channel
    may write to it.
    """
    prefix = sender_prefix(channel)
    raw = check_sender(raw)
    owner = namespace_of(raw)
    if owner == channel and raw.lower().startswith(prefix):
        return prefix + raw[len(prefix):]
    if owner is not None:
        raise InboundError("foreign_sender",
                           f"`sender` {raw!r} belongs to the {owner} channel; the {channel} channel can only "
                           f"write to its own conversations ({prefix}…). Use a plain id such as \"me\".",
                           status=403)
    return prefix + raw


def check_metadata(metadata: Any) -> Dict[str, Any]:
    """Client metadata, if it is small and shallow JSON; InboundError `invalid_metadata` (400) otherwise."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise invalid_metadata("`metadata` must be an object.")
    _check_metadata_value(metadata, 1)
    try:
        size = len(json.dumps(metadata, ensure_ascii=False, allow_nan=False).encode("utf-8"))
    except ValueError:
        raise invalid_metadata("`metadata` must be plain JSON (no NaN or Infinity).") from None
    if size > MAX_METADATA_BYTES:
        raise invalid_metadata(f"`metadata` is {size} bytes as JSON; at most {MAX_METADATA_BYTES} are accepted.")
    return metadata


def _check_metadata_value(value: Any, depth: int) -> None:
    if isinstance(value, dict):
        if depth > MAX_METADATA_DEPTH:
            raise invalid_metadata(f"`metadata` may nest objects and lists at most {MAX_METADATA_DEPTH} levels deep.")
        if len(value) > MAX_METADATA_KEYS:
            raise invalid_metadata(f"`metadata` objects may have at most {MAX_METADATA_KEYS} keys.")
        for key, item in value.items():
            if not isinstance(key, str) or not 0 < len(key) <= MAX_METADATA_KEY_CHARS:
                raise invalid_metadata(f"`metadata` keys must be 1–{MAX_METADATA_KEY_CHARS} characters.")
            _check_metadata_value(item, depth + 1)
    elif isinstance(value, list):
        if depth > MAX_METADATA_DEPTH:
            raise invalid_metadata(f"`metadata` may nest objects and lists at most {MAX_METADATA_DEPTH} levels deep.")
        if len(value) > MAX_METADATA_LIST_ITEMS:
            raise invalid_metadata(f"`metadata` lists may have at most {MAX_METADATA_LIST_ITEMS} items.")
        for item in value:
            _check_metadata_value(item, depth + 1)
    elif isinstance(value, float) and not math.isfinite(value):
        raise invalid_metadata("`metadata` must be plain JSON (no NaN or Infinity).")
    elif value is not None and not isinstance(value, (str, int, float, bool)):
        raise invalid_metadata("`metadata` values must be JSON strings, numbers, booleans, null, lists or objects.")


def invalid_metadata(message: str) -> InboundError:
    return InboundError("invalid_metadata", message)
