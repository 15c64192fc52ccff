"""Twilio's voice webhooks as Twilio really posts them: every documented parameter, blanks included.

Twilio signs all the parameters it sends, the empty ones too. For a Japanese caller the
geographic fields are empty (`FromCity=`, `FromState=`, `FromZip=`, `CallerZip=` …), a keypad
Gather that ends on its digit count posts `FinishedOnKey=`, and `ForwardedFrom`/`CallerName`/
`ParentCallSid` are empty on an ordinary call. Parameter lists from Twilio's docs: "Voice
Webhooks" (incoming call, status callbacks) and "TwiML <Gather>" (action parameters).
"""
from __future__ import annotations

from typing import Dict, List, Tuple

from twilio.request_validator import RequestValidator

Fields = List[Tuple[str, str]]


def call_fields(account_sid: str, call_sid: str, caller: str, called: str, status: str) -> Fields:
    """The parameters of every voice request of a call (Twilio's "Request parameters")."""
    return [
        ("AccountSid", account_sid), ("ApiVersion", "2010-04-01"), ("CallSid", call_sid),
        ("CallStatus", status), ("CallToken", ""), ("Called", called), ("CalledCity", ""),
        ("CalledCountry", "JP"), ("CalledState", ""), ("CalledZip", ""), ("Caller", caller),
        ("CallerCity", ""), ("CallerCountry", "JP"), ("CallerName", ""), ("CallerState", ""),
        ("CallerZip", ""), ("Direction", "inbound"), ("ForwardedFrom", ""), ("From", caller),
        ("FromCity", ""), ("FromCountry", "JP"), ("FromState", ""), ("FromZip", ""),
        ("ParentCallSid", ""), ("StirVerstat", ""), ("To", called), ("ToCity", ""),
        ("ToCountry", "JP"), ("ToState", ""), ("ToZip", ""),
    ]


def gather_fields(base: Fields, digits: str = "", speech: str = "", confidence: str = "") -> Fields:
    """A <Gather> action: keys (with `FinishedOnKey=` blank when the digit count ended it), or speech."""
    fields = [(key, value) for key, value in base if key != "CallStatus"] + [("CallStatus", "in-progress")]
    if digits:
        fields += [("Digits", digits), ("FinishedOnKey", ""), ("msg", "Gather End")]
    elif speech:
        fields += [("Confidence", confidence or "0.9"), ("Language", "ja-JP"), ("SpeechResult", speech),
                   ("msg", "Gather End")]
    return fields


def status_fields(base: Fields, status: str, duration: str = "0", sequence: str = "0") -> Fields:
    """A call status callback (`completed`, `busy`, …)."""
    fields = [(key, value) for key, value in base if key != "CallStatus"]
    return fields + [("CallStatus", status), ("CallDuration", duration), ("CallbackSource", "call-progress-events"),
                     ("Duration", "1"), ("SequenceNumber", sequence), ("SipResponseCode", "200"),
                     ("Timestamp", "Mon, 07 Dec 2026 09:05:00 +0000")]


class SignedFields(Dict[str, List[str]]):
    """What twilio's validator reads (`getall`), built from the posted list."""

    def getall(self, name: str) -> List[str]:
        return self[name]


def signature_of(auth_token: str, url: str, fields: Fields) -> str:
    """The X-Twilio-Signature Twilio sends: the twilio library's own computation over every field."""
    signed = SignedFields()
    for key, value in fields:
        signed.setdefault(key, []).append(value)
    return RequestValidator(auth_token).compute_signature(url, signed)
