"""Secrets and personal numbers never reach a log line.

A `LogMask` filter rewrites every record before any handler formats it: the configured
secrets by exact value, Telegram bot tokens (also inside Bot API URLs), LINE channel access
tokens and `Authorization` values, `token=` query parameters, and — with the rules of
`bot.redaction` — individual numbers and phone numbers, also where a JSON or repr() rendering
turned their separators into escapes (Rasa's debug events print ー as \\u30fc).
"""
from __future__ import annotations

import logging
import re
from dataclasses import fields
from typing import Iterable, List, Optional, Tuple

from bot.redaction import my_number_spans, phone_number_spans
from bot.settings import Settings

SECRET_MASK = "[secret]"
# ASCII, so a log stream in any encoding can print them.
MY_NUMBER_MASK = "[my-number]"
PHONE_MASK = "[phone]"
# Libraries that log every request URL (a Bot API URL carries the bot token) or headers.
CHATTY_LOGGERS = ("httpx", "httpcore", "aiohttp", "urllib3", "hpack")
MIN_SECRET_CHARS = 4  # shorter values would mask ordinary words; such a secret is no secret anyway

_TOKEN_PATTERNS = [
    # Telegram bot token, alone or in https://api.telegram.org/bot<id>:<secret>/method
    (re.compile(r"(?<![0-9A-Za-z])\d{5,12}:[A-Za-z0-9_-]{20,}"), SECRET_MASK),
    (re.compile(r"(/bot)\d+:[^/\s'\"?]+"), rf"\1{SECRET_MASK}"),
    # Authorization: Bearer <LINE channel access token>, Basic …, also as a repr()'d header
    (re.compile(r"(?i)\b(bearer|basic)(\s+|%20)[^\s'\",;]+"), rf"\1\2{SECRET_MASK}"),
    (re.compile(r"(?i)(authorization['\"]?\s*[:=,]\s*['\"]?)(?!bearer|basic)[^\s'\",;]+"), rf"\1{SECRET_MASK}"),
    # LINE channel access tokens are ~170 base64 characters
    (re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{100,}={0,2}"), SECRET_MASK),
    # ?token=… (Rasa's HTTP API), access_token=…, secret=…
    (re.compile(r"(?i)([?&](?:token|access_token|auth_token|secret)=)[^&\s'\"]+"), rf"\1{SECRET_MASK}"),
]
# How a rendered log line spells characters: \u30fc (JSON), \n, \t, \xa0 (repr).
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|([ntr]))")
_CONTROL = {"n": "\n", "t": "\t", "r": "\r"}


def configured_secrets(settings: Settings) -> List[str]:
    """Every token and secret in the settings (fields named *_token or *_secret)."""
    values = (getattr(settings, f.name) for f in fields(settings) if f.name.endswith(("_token", "_secret")))
    return [v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_CHARS]


def _unescaped(text: str) -> Tuple[str, List[int]]:
    """`text` with escapes decoded, and where each decoded character starts in `text`.

    Characters map in order, so one ends where the next starts.
    """
    chars: List[str] = []
    starts: List[int] = []
    position = 0
    for match in _ESCAPE.finditer(text):
        chars.append(text[position:match.start()])
        starts.extend(range(position, match.start()))
        code = match.group(1) or match.group(2)
        chars.append(chr(int(code, 16)) if code else _CONTROL[match.group(3)])
        starts.append(match.start())
        position = match.end()
    chars.append(text[position:])
    starts.extend(range(position, len(text)))
    return "".join(chars), starts


def mask_personal_numbers(text: str) -> str:
    """Individual numbers and phone numbers out of a rendered log line."""
    view, starts = _unescaped(text) if "\\" in text else (text, None)
    spans = [(span, MY_NUMBER_MASK) for span in my_number_spans(view)]
    spans += [(span, PHONE_MASK) for span, _ in phone_number_spans(view)]
    if not spans:
        return text
    if starts is not None:  # back to positions in the line as written
        ends = starts[1:] + [len(text)]
        spans = [((starts[start], ends[end - 1]), mask) for (start, end), mask in spans]
    merged: List[List] = []  # overlapping finds become one mask; an individual number's wins
    for (start, end), mask in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            merged[-1][2] = MY_NUMBER_MASK if MY_NUMBER_MASK in (mask, merged[-1][2]) else mask
        else:
            merged.append([start, end, mask])
    for start, end, mask in reversed(merged):
        text = text[:start] + mask + text[end:]
    return text


class LogMask(logging.Filter):
    """Masks secrets and personal numbers in a record's message, arguments and traceback."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is masked whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, SECRET_MASK)
        for pattern, replacement in _TOKEN_PATTERNS:
            text = pattern.sub(replacement, text)
        return mask_personal_numbers(text)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "madoguchi_masked", False):
            return True
        try:
            record.msg, record.args = self.mask(record.getMessage()), ()
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self.mask(record.exc_text)
            if record.stack_info:
                record.stack_info = self.mask(record.stack_info)
            for key in ("request", "host"):  # Sanic's access log passes the request line as extras
                value = getattr(record, key, None)
                if isinstance(value, str):
                    setattr(record, key, self.mask(value))
        except Exception:  # a log call with bad arguments: let logging report it as usual
            return True
        record.madoguchi_masked = True
        return True


_installed: Optional[LogMask] = None


def install(secrets: Iterable[str]) -> LogMask:
    """Mask every record from now on, whichever handler prints it.

    The filter goes on the root handlers, and into the record factory as well: Sanic builds its
    own handlers later (when the app is created) and they do not propagate to the root.
    """
    global _installed
    mask = LogMask(secrets)
    for handler in logging.getLogger().handlers:
        for old in [f for f in handler.filters if isinstance(f, LogMask)]:
            handler.removeFilter(old)
        handler.addFilter(mask)
    if _installed is None:
        make_record = logging.getLogRecordFactory()

        def masked_record(*args, **kwargs) -> logging.LogRecord:
            record = make_record(*args, **kwargs)
            if _installed is not None:
                _installed.filter(record)
            return record

        logging.setLogRecordFactory(masked_record)
    _installed = mask
    logging.captureWarnings(True)  # warnings go through logging, so through the mask
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return mask
