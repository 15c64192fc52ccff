"""My Number Act protection: find individual numbers and PINs and replace them.

Every inbound message passes through `redact()` in the channel layer, before Rasa,
the tracker store or any log sees it. The resident is then told not to send them.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Tuple

MY_NUMBER_MASK = "[個人番号]"
PIN_MASK = "[暗証番号]"

# 12 digits, optionally grouped 4-4-4 by spaces or hyphens, not inside a longer number.
_TWELVE_DIGITS = re.compile(r"(?<![0-9])(\d{4})[ \-]?(\d{4})[ \-]?(\d{4})(?![0-9])")
_MY_NUMBER_CONTEXT = re.compile(r"マイナンバー|個人番号|こじんばんごう|まいなんばー|my ?number|individual number", re.I)
_PIN_CONTEXT = re.compile(
    r"暗証|あんしょう|アンショウ|\bpin\b|ピン番号|パスワード|ぱすわーど|password|passcode|パスコード", re.I
)
_FOUR_DIGITS = re.compile(r"(?<![0-9A-Za-z])\d{4}(?![0-9A-Za-z])")
# 署名用電子証明書の暗証番号: 6–16 characters mixing letters and digits.
_SIGNING_PIN = re.compile(r"(?<![0-9A-Za-z])(?=[0-9A-Za-z]*[0-9])(?=[0-9A-Za-z]*[A-Za-z])[0-9A-Za-z]{6,16}(?![0-9A-Za-z])")


@dataclass(frozen=True)
class Redaction:
    text: str
    findings: Tuple[str, ...]  # "my_number" and/or "pin"

    @property
    def changed(self) -> bool:
        return bool(self.findings)


def my_number_check_digit(first_eleven: str) -> int:
    """Check digit of an individual number (総務省令 on 個人番号の検査用数字)."""
    if len(first_eleven) != 11 or not first_eleven.isdigit():
        raise ValueError("need exactly 11 digits")
    total = 0
    for n in range(1, 12):
        p = int(first_eleven[11 - n])
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def is_valid_my_number(digits: str) -> bool:
    digits = re.sub(r"[ \-]", "", digits)
    return len(digits) == 12 and digits.isdigit() and my_number_check_digit(digits[:11]) == int(digits[11])


def normalize(text: str) -> str:
    """NFKC (full-width digits and half-width kana become standard) and trimmed."""
    return unicodedata.normalize("NFKC", text).strip()


def redact(text: str) -> Redaction:
    """Replace individual numbers and PINs in already-normalized `text`."""
    findings = []
    mentions_my_number = bool(_MY_NUMBER_CONTEXT.search(text))

    def replace_my_number(match: re.Match) -> str:
        if is_valid_my_number("".join(match.groups())) or mentions_my_number:
            findings.append("my_number")
            return MY_NUMBER_MASK
        return match.group(0)

    text = _TWELVE_DIGITS.sub(replace_my_number, text)
    if _PIN_CONTEXT.search(text):
        before = text
        text = _FOUR_DIGITS.sub(PIN_MASK, text)
        text = _SIGNING_PIN.sub(lambda m: m.group(0) if m.group(0).lower() == "pin" else PIN_MASK, text)
        if text != before:
            findings.append("pin")
    return Redaction(text, tuple(dict.fromkeys(findings)))


def clean_inbound(text: str) -> Redaction:
    """What every channel does with a resident's text: normalize, then redact."""
    return redact(normalize(text))
