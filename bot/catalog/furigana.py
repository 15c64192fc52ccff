"""Furigana markup used in やさしい日本語 texts: ``{漢字|かんじ}``.

The catalog keeps readings as data so every surface (web ruby, TTS, kana-only
messaging apps) can render them its own way.
"""
from __future__ import annotations

import re
from typing import List

RUBY_PATTERN = re.compile(r"\{([^{}|]+)\|([^{}|]+)\}")
KANJI_PATTERN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆]")
PLACEHOLDER_PATTERN = re.compile(r"\{([a-z_]+)\}")


def fill(template: str, **values: str) -> str:
    """Fill ``{name}`` placeholders without touching ``{漢字|かんじ}`` markup."""
    return PLACEHOLDER_PATTERN.sub(lambda m: str(values.get(m.group(1), m.group(0))), template)


def plain(text: str) -> str:
    """The text with kanji and no readings (for screens without ruby)."""
    return RUBY_PATTERN.sub(lambda m: m.group(1), text)


def kana(text: str) -> str:
    """The text with readings instead of kanji (for speech and kana-only displays)."""
    return RUBY_PATTERN.sub(lambda m: m.group(2), text)


def parenthesized(text: str) -> str:
    """Readings in parentheses after each word: 市民課(しみんか). For plain-text channels."""
    return RUBY_PATTERN.sub(lambda m: f"{m.group(1)}({m.group(2)})", text)


def bare_kanji(text: str) -> List[str]:
    """Kanji that appear outside furigana markup (a validation error in easy texts)."""
    return KANJI_PATTERN.findall(RUBY_PATTERN.sub("", text))


def malformed_markup(text: str) -> bool:
    """True when braces or bars remain after removing well-formed markup."""
    rest = PLACEHOLDER_PATTERN.sub("", RUBY_PATTERN.sub("", text))
    return any(ch in rest for ch in "{}|")
