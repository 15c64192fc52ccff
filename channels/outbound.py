"""Shaping bot messages for messaging apps with plain-text bubbles (Telegram, LINE)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Dict, Hashable, List


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


class SeenIds:
    """The most recent delivery ids (bounded): platforms redeliver what they think was lost,
    and a resident must not be answered twice. In memory, so one process."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._seen: "OrderedDict[Hashable, None]" = OrderedDict()

    def first_time(self, key: Hashable) -> bool:
        if key in self._seen:
            return False
        self._seen[key] = None
        while len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return True
