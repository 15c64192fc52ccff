"""What every channel does to a resident's text before Rasa sees it."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, Optional

from bot.redaction import clean_inbound, redact_metadata

SENDER_PATTERN = re.compile(r"^[A-Za-z0-9_.:@\-]{1,128}$")
# Metadata keys the server sets itself; a client must not be able to forge them.
RESERVED_METADATA = {"redacted", "staff", "channel_user"}


class InboundError(ValueError):
    """A message that cannot be accepted; `code` is stable for clients, `message` is for people."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

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
        raise InboundError(
            "message_too_long",
            f"The message is too long ({len(text)} characters). Please send at most {max_chars} characters. "
            f"メッセージが長すぎます。{max_chars}文字以内で送ってください。",
            status=413,
        )
    redaction = clean_inbound(text)
    if not redaction.text:
        raise InboundError("empty_message", "The message is empty. メッセージが空です。")
    # Metadata is stored with the event and copied into the session_started_metadata slot.
    clean_metadata, metadata_findings = redact_metadata(
        {k: v for k, v in (metadata or {}).items() if k not in RESERVED_METADATA})
    findings = list(dict.fromkeys(redaction.findings + metadata_findings))
    if findings:
        clean_metadata["redacted"] = findings
    return Inbound(redaction.text, clean_metadata)


def check_sender(sender: Any) -> str:
    if not isinstance(sender, str) or not SENDER_PATTERN.match(sender):
        raise InboundError("invalid_sender", "`sender` must be 1–128 letters, digits or . _ - : @")
    return sender
