"""Shaping bot messages for messaging apps with plain-text bubbles (Telegram, LINE)."""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any, Callable, Dict, Hashable, List, Optional

SHORT_ID_PREFIX = "~"  # payloads start with "/", so a short id can never be mistaken for one
MAX_TITLE_CHARS = 100

def text_of(message: Dict[str, Any]) -> str:
    """The message text; easy Japanese already has its readings in parentheses, and a
    clerk's message is signed so the resident knows a person wrote it."""
    text = str(message.get("text") or "").strip()
    staff = message.get("staff")
    name = staff.get("name") if isinstance(staff, dict) else None
    if text and isinstance(name, str) and name:
        return f"{name}: {text}"
    return text


def longest_fitting_prefix(text: str, limit: int, measure: Callable[[str], int] = len) -> int:
    """How many characters of `text` fit in `limit` as the platform measures length."""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def split_text(text: str, limit: int, measure: Callable[[str], int] = len) -> List[str]:
    """Parts that fit the platform's text limit, cut at line ends where possible."""
    parts: List[str] = []
    while measure(text) > limit:
        fit = longest_fitting_prefix(text, limit, measure)
        cut = text.rfind("\n", 0, fit)
        cut = cut if cut > 0 else fit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    return parts + [text] if text else parts


def remember(table: "OrderedDict", key: Hashable, value: Any, capacity: int) -> None:
    """Put `key` in a bounded table, forgetting the oldest entries beyond `capacity`."""
    table[key] = value
    table.move_to_end(key)
    while len(table) > capacity:
        table.popitem(last=False)


class SeenIds:
    """The most recent delivery ids (bounded): platforms redeliver what they think was lost,
    and a resident must not be answered twice. In memory, so one process."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._seen: "OrderedDict[Hashable, None]" = OrderedDict()

    def first_time(self, key: Hashable) -> bool:
        if key in self._seen:
            return False
        remember(self._seen, key, None, self.capacity)
        return True


class ShortPayloads:
    """Button payloads as platform button data: as is when they fit, else a short id.

    The id is a hash of the payload, so the same button always gets the same id; it is
    kept in memory (bounded), so a button from before a restart answers "expired" instead
    of doing something else. The label is remembered too: a button press carries only its
    data, and the transcript should show what the resident tapped, not `/intent{…}`.
    """

    def __init__(self, fits: Callable[[str], bool], capacity: int = 10_000) -> None:
        self.fits = fits
        self.capacity = capacity
        self._long: "OrderedDict[str, str]" = OrderedDict()
        self._titles: "OrderedDict[str, str]" = OrderedDict()

    def data_for(self, payload: str, title: Optional[str] = None) -> str:
        data = payload
        if not self.fits(payload) or payload.startswith(SHORT_ID_PREFIX):
            data = SHORT_ID_PREFIX + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]
            remember(self._long, data, payload, self.capacity)
        if title:
            remember(self._titles, data, title[:MAX_TITLE_CHARS], self.capacity)
        return data

    def payload_for(self, data: str) -> Optional[str]:
        if data.startswith(SHORT_ID_PREFIX):
            return self._long.get(data)
        return data

    def title_for(self, data: str) -> Optional[str]:
        return self._titles.get(data)
