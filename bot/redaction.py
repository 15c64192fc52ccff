"""My Number Act protection: find individual numbers, PINs and phone numbers and replace them.

Every inbound message passes through `clean_inbound()` in the channel layer, before Rasa,
the tracker store or any log sees it; metadata goes through `redact_metadata()`. The
resident is then told not to send them. The staff view and the log filter use the same
finders, so one rule decides everywhere.

How numbers are found: a person or an input method puts almost anything between digit
groups (ー, ‐, –, −, dots, slashes, underscores, brackets, stars, line breaks, several spaces,
3-3-3-3 or 2-2-… groups), so digits are read as *runs*: maximal groups of digits joined by
separators only, and a separator is any character that is neither a letter nor a digit (plus
ー, which Unicode counts as a letter but an IME gives for "-"): no list to fall behind.
Two written forms are read otherwise unless My Number words are near: digits grouped by
thousands with commas (1,234,567) are an amount, and twelve digits that hold a phone number (or part
of one) and digits beside it, joined by a separator outside the usual list (ー, -, ., /, spaces),
are a phone number and something else ("090-1234-5678、9時以降"), so a call-back number stays whole.
A run of exactly 12 digits, or 12 digits at group boundaries inside a longer run, is an
individual number when its check digit is valid, or whatever its check digit when My Number
words are near. Spoken digits (いち, に, さん, 一, 二, "one", …), as a speech recognizer writes
them, are read the same way. Digits glued together by separators alone are one run, so a
date next to a phone number can now and then read as an individual number: the law errs on
that side.

Phone numbers are found the same way (`find_phone_number`) but stay in inbound text: the
handoff gate takes a call-back number out itself; the staff view and the log mask the rest.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Iterable, List, Optional, Sequence, Tuple

from bot.text import normalize_inbound

MY_NUMBER_MASK = "[個人番号]"
PIN_MASK = "[暗証番号]"
PHONE_MASK = "[電話番号]"

MY_NUMBER_DIGITS = 12
PIN_DIGITS = 4
PHONE_DIGITS = (10, 11)

# Characters Unicode counts as letters that an IME types for "-": the long vowel marks.
_LETTER_SEPARATORS = frozenset("ーｰ")
# Commas between groups of three digits write an amount (1,234,567), not an identifier.
_THOUSANDS_SEPARATORS = frozenset(",，")
# The separators of phone numbers and spoken digits stay a list: they decide what the handoff
# gate takes for a call-back number and what a speech transcript's words join. NFKC runs first
# on inbound text (full-width forms become ASCII, but ー U+30FC and ・ survive); the full-width
# forms are listed too because metadata, old events and log lines are matched as they are.
_SEPARATOR_CHARS = frozenset(
    "-‐‑‒–—―−⁃﹣－ーｰ"  # hyphens, dashes, minus signs, the long vowel mark an IME gives for "-"
    ".．·‧・･"  # dots and middle dots
    "/／"  # slashes
    "\u200b\u200c\u200d\u2060\ufeff\u00ad"  # invisible characters that a paste can carry
)
# Spoken digits may also be listed with commas (「いち、に、さん」).
_SPOKEN_GAP_CHARS = _SEPARATOR_CHARS | frozenset(",，、､")
# Phone numbers are also written with brackets: (03) 1234-5678, 03(1234)5678.
_PHONE_GAP_CHARS = _SEPARATOR_CHARS | frozenset("()（）")

_MY_NUMBER_CONTEXT = re.compile(
    r"マイナンバー|個人番号|こじんばんごう|まいなんばー|my[ _-]?(?:number|no\b)|individual[ _-]?number", re.I)
_PIN_CONTEXT = re.compile(
    r"暗証|あんしょう|アンショウ|\bpin\b|ピン番号|パスワード|ぱすわーど|password|passcode|パスコード", re.I
)
# 署名用電子証明書の暗証番号: 6–16 characters mixing letters and digits.
_SIGNING_PIN = re.compile(r"(?<![0-9A-Za-z])(?=[0-9A-Za-z]*[0-9])(?=[0-9A-Za-z]*[A-Za-z])"
                          r"[0-9A-Za-z]{6,16}(?![0-9A-Za-z])")

_DIGIT_GROUP = re.compile(r"\d+")  # \d is every Unicode decimal digit, full-width ones included
_SPOKEN_WORDS = {
    "0": ["ゼロ", "ぜろ", "れい", "レイ", "まる", "マル", "〇", "零", "○", "zero", "oh"],
    "1": ["いち", "イチ", "一", "壱", "one"],
    "2": ["に", "ニ", "二", "弐", "two"],
    "3": ["さん", "サン", "三", "参", "three"],
    "4": ["よん", "ヨン", "し", "シ", "四", "four"],
    "5": ["ご", "ゴ", "五", "five"],
    "6": ["ろく", "ロク", "六", "six"],
    "7": ["なな", "ナナ", "しち", "シチ", "七", "seven"],
    "8": ["はち", "ハチ", "八", "eight"],
    "9": ["きゅう", "キュウ", "きゅー", "キュー", "く", "ク", "九", "nine"],
}
_SPOKEN_VALUE = {word.lower(): digit for digit, words in _SPOKEN_WORDS.items() for word in words}
# Longest first, so しち is 7 (not し + ち) and きゅう is 9 (not き + ゅう); English words
# only as whole words ("someone" holds no "one").
_SPOKEN_DIGIT = re.compile("|".join(
    rf"(?<![a-z]){re.escape(word)}(?![a-z])" if word.isascii() else re.escape(word)
    for word in sorted(_SPOKEN_VALUE, key=len, reverse=True)), re.I)

Span = Tuple[int, int]


@dataclass(frozen=True)
class Redaction:
    text: str
    findings: Tuple[str, ...]  # "my_number" and/or "pin"


@dataclass(frozen=True)
class _Piece:
    """Digits read from text[start:end]: one digit group, or one spoken digit."""

    start: int
    end: int
    digits: str


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
    digits = "".join(str(unicodedata.decimal(c)) for c in digits if c.isdecimal())
    return len(digits) == MY_NUMBER_DIGITS and my_number_check_digit(digits[:11]) == int(digits[11])


# --- reading digits --------------------------------------------------------------------------
def _joined_by(gap_chars: frozenset, allow_empty: bool) -> Callable[[str], bool]:
    def joins(gap: str) -> bool:
        if not gap:
            return allow_empty
        return all(c in gap_chars or c.isspace() for c in gap)

    return joins


def is_separator(char: str) -> bool:
    """Whether `char` may stand between the digit groups of one written number: anything but a
    letter or a digit (punctuation, symbols, spaces, line breaks, controls, invisible characters)."""
    return char in _LETTER_SEPARATORS or not char.isalnum()


def _any_separators(gap: str) -> bool:
    return bool(gap) and all(map(is_separator, gap))


# A typed PIN is found under both rules: the narrow one keeps "1234、5678" two PINs.
_NUMERIC_GAP = _any_separators
_LISTED_GAP = _joined_by(_SEPARATOR_CHARS, allow_empty=False)
_SPOKEN_GAP = _joined_by(_SPOKEN_GAP_CHARS, allow_empty=True)
_PHONE_GAP = _joined_by(_PHONE_GAP_CHARS, allow_empty=False)


def _ascii_digits(group: str) -> str:
    return group if group.isascii() else "".join(str(unicodedata.decimal(c)) for c in group)


def _digit_groups(text: str) -> List[_Piece]:
    return [_Piece(m.start(), m.end(), _ascii_digits(m.group())) for m in _DIGIT_GROUP.finditer(text)]


def _spoken_digits(text: str) -> List[_Piece]:
    return [_Piece(m.start(), m.end(), _SPOKEN_VALUE[m.group().lower()]) for m in _SPOKEN_DIGIT.finditer(text)]


def _runs(text: str, pieces: Sequence[_Piece], joins: Callable[[str], bool]) -> List[List[_Piece]]:
    """Pieces grouped into maximal runs whose gaps are separators only."""
    runs: List[List[_Piece]] = []
    for piece in pieces:
        if runs and joins(text[runs[-1][-1].end:piece.start]):
            runs[-1].append(piece)
        else:
            runs.append([piece])
    return runs


def _stretch(run: Sequence[_Piece], first: int, size: int) -> Optional[Tuple[int, str]]:
    """(last, digits) when whole pieces from `first` hold exactly `size` digits, else None."""
    digits = ""
    for last in range(first, len(run)):
        digits += run[last].digits
        if len(digits) >= size:
            return (last, digits) if len(digits) == size else None
    return None


def _windows(run: Sequence[_Piece], size: int) -> Iterable[Tuple[int, int, str]]:
    """(first, last, digits) for every stretch of whole pieces holding exactly `size` digits."""
    for first in range(len(run)):
        found = _stretch(run, first, size)
        if found is not None:
            yield (first, *found)


def _is_amount(text: str, run: Sequence[_Piece]) -> bool:
    """1,234,567,890,128: a whole run of digits grouped by thousands with commas (a sum of money)."""
    return (len(run) > 1 and 1 <= len(run[0].digits) <= 3
            and all(len(piece.digits) == 3 and text[before.end:piece.start] in _THOUSANDS_SEPARATORS
                    for before, piece in zip(run, run[1:], strict=False)))


def _international(text: str, run: List[_Piece]) -> bool:
    """+81 90-1234-5678: a phone number written internationally, never an individual number."""
    return run[0].start > 0 and text[run[0].start - 1] == "+"


def my_number_spans(text: str, context: str = "") -> List[Span]:
    """Where individual numbers are in `text`, written with digits or spoken.

    With My Number words in `text` or in `context` (words around it, e.g. a metadata key),
    12 digits are taken for an individual number even with a wrong check digit.
    """
    named = _mentions_my_number(context) or _mentions_my_number(text)
    spans: List[Span] = []
    for pieces, joins in ((_digit_groups(text), _NUMERIC_GAP), (_spoken_digits(text), _SPOKEN_GAP)):
        for run in _runs(text, pieces, joins):
            if not named and _is_amount(text, run):
                continue
            if _international(text, run):
                run = run[1:]
            for first, last, digits in _windows(run, MY_NUMBER_DIGITS):
                span = (run[first].start, run[last].end)
                if named or (is_valid_my_number(digits) and not _beside_a_phone_number(text, run[first:last + 1])):
                    spans.append(span)
    return spans


def _beside_a_phone_number(text: str, window: Sequence[_Piece]) -> bool:
    """Twelve digits that hold a phone number, or part of one, and digits beside it, joined by a
    separator outside the usual list ("090-1234-5678、9時以降", "03-1234-5678（10:00〜）"): a
    call-back number and a time, not an individual number. Digits joined by the usual
    separators alone (ー, -, ., /, spaces) are read as before."""
    if all(_LISTED_GAP(text[a.end:b.start]) for a, b in zip(window, window[1:], strict=False)):
        return False
    start, end = window[0].start, window[-1].end
    return any(phone_start < end and start < phone_end for (phone_start, phone_end), _ in phone_number_spans(text))


def _pin_spans(text: str) -> List[Span]:
    """Only called in a PIN context: 4 digits in one run (1234, 12-34, 1 2 3 4, いちにさんし)."""
    spans: List[Span] = []
    groups = _digit_groups(text)
    for pieces, joins in ((groups, _NUMERIC_GAP), (groups, _LISTED_GAP), (_spoken_digits(text), _SPOKEN_GAP)):
        for run in _runs(text, pieces, joins):
            if sum(len(p.digits) for p in run) == PIN_DIGITS:
                spans.append((run[0].start, run[-1].end))
    spans += [m.span() for m in _SIGNING_PIN.finditer(text) if m.group().lower() != "pin"]
    return spans


def _glued_to_letters(text: str, piece: _Piece) -> bool:
    before = text[piece.start - 1] if piece.start else ""
    after = text[piece.end] if piece.end < len(text) else ""
    return (before.isascii() and before.isalpha()) or (after.isascii() and after.isalpha())


def phone_number_spans(text: str) -> List[Tuple[Span, str]]:
    """Japanese phone numbers: ((start, end), the digits as dialled in Japan), left to right.

    10 or 11 digits starting with 0, in any grouping and with any separators or brackets
    (０９０ー１２３４ー５６７８, 090 1234 5678, (03) 1234-5678, 0312345678), or +81 without the 0.
    """
    found: List[Tuple[Span, str]] = []
    # Digits glued to letters are identifiers (U0123456789ab…), not phone numbers.
    groups = [g for g in _digit_groups(text) if not _glued_to_letters(text, g)]
    for run in _runs(text, groups, _PHONE_GAP):
        prefix, country_code_at = "", None
        if _international(text, run) and run[0].digits == "81" and len(run) > 1:
            prefix, country_code_at, run = "0", run[0].start - 1, run[1:]
        first = 0
        while first < len(run):
            # The shorter reading first: "03-1234-5678 9時" is a 10-digit number and an hour.
            lead = prefix if first == 0 else ""  # the 0 that +81 stands for
            stretches = (_stretch(run, first, size - len(lead)) for size in PHONE_DIGITS)
            match = next((s for s in stretches if s is not None and (lead + s[1]).startswith("0")), None)
            if match is None:
                first += 1
                continue
            last, digits = match
            start = country_code_at if lead and country_code_at is not None else run[first].start
            if start > 0 and text[start - 1] in "(（":  # (03) 1234-5678: the bracket goes too
                start -= 1
            found.append(((start, run[last].end), lead + digits))
            first = last + 1
    return found


def find_phone_number(text: str) -> Optional[str]:
    """The first phone number in `text`, as digits only ("09012345678"), or None."""
    found = phone_number_spans(text)
    return found[0][1] if found else None


def _replace(text: str, spans: Iterable[Span], mask: str) -> str:
    """Replace the (possibly overlapping) spans by one mask each."""
    merged: List[List[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in reversed(merged):
        text = text[:start] + mask + text[end:]
    return text


def mask_phone_numbers(text: str) -> str:
    """Every phone number in `text` replaced by [電話番号]."""
    return _replace(text, (span for span, _ in phone_number_spans(text)), PHONE_MASK)


# --- redaction -------------------------------------------------------------------------------
def redact(text: str, context: str = "") -> Redaction:
    """Replace individual numbers (written or spoken) and PINs in already-normalized `text`.

    `context`: words around the text (a metadata key such as "my_number" or "pin") that
    count as if they were in it.
    """
    findings = []
    spans = my_number_spans(text, context)
    if spans:
        text = _replace(text, spans, MY_NUMBER_MASK)
        findings.append("my_number")
    if _mentions_pin(context) or _mentions_pin(text):
        spans = _pin_spans(text)
        if spans:
            text = _replace(text, spans, PIN_MASK)
            findings.append("pin")
    return Redaction(text, tuple(findings))


def clean_inbound(text: str) -> Redaction:
    """What every channel does with a resident's text: normalize, then redact.

    The voice channel passes a speech recognizer's transcript here too: digits it writes as
    kana, kanji or English words (いち, 〇一二, "one") are read like numerals.
    """
    return redact(normalize_inbound(text))


def scrub(text: str, context: str = "") -> str:
    """`text` without individual numbers or PINs, and otherwise untouched.

    For text that did not pass clean_inbound (metadata values, events stored before a rule
    change): the same rules, but text with nothing to hide is returned as it was.
    """
    result = redact(normalize_inbound(text), context)
    return result.text if result.findings else text


def redact_metadata(value: Any) -> Tuple[Any, Tuple[str, ...]]:
    """A copy of (nested) metadata with every string scrubbed, and what was found.

    Keys are scrubbed too, and the keys above a value count as its context (a "my_number"
    or "pin" key); numbers are read as their digits (123456789018 in JSON).
    """
    findings: List[str] = []

    def clean(item: Any, keys: str) -> Any:
        if isinstance(item, dict):
            return {clean(key, keys): clean(inner, f"{keys} {key}") for key, inner in item.items()}
        if isinstance(item, (list, tuple)):
            return [clean(inner, keys) for inner in item]
        if isinstance(item, str) or (isinstance(item, (int, float)) and not isinstance(item, bool)):
            try:
                text = str(item)
            except ValueError:  # an integer too long to print is one digit group: no individual number
                return item
            result = redact(normalize_inbound(text), normalize_inbound(keys))
            if result.findings:
                findings.extend(result.findings)
                return result.text
        return item

    return clean(value, ""), tuple(dict.fromkeys(findings))


def _mentions_my_number(text: str) -> bool:
    """My Number words in `text` (our own mask does not count: it would make any 12 digits one)."""
    return bool(_MY_NUMBER_CONTEXT.search(text.replace(MY_NUMBER_MASK, "")))


def _mentions_pin(text: str) -> bool:
    return bool(_PIN_CONTEXT.search(text.replace(PIN_MASK, "")))
