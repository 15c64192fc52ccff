"""Furigana for standard Japanese replies, from the dictionary (fugashi + unidic-lite).

The catalog writes furigana only for やさしい日本語; the page's furigana toggle should help
a reader who knows kana but few kanji with standard Japanese too.
"""
from __future__ import annotations

import functools
import logging
import re
from typing import Optional

from bot.catalog.furigana import KANJI_PATTERN, plain
from bot.text import shared_tagger, to_hiragana

logger = logging.getLogger(__name__)

# A run of kanji, or a run of anything else.
_KANJI_OR_KANA_RUNS = re.compile(r"(?:%s)+|(?:(?!%s).)+" % (KANJI_PATTERN.pattern, KANJI_PATTERN.pattern))


def align(surface: str, reading: str) -> str:
    """{漢字|かんじ} markup for one word, kana outside the braces (受け取り → {受|う}け{取|と}り)."""
    parts = _KANJI_OR_KANA_RUNS.findall(surface)
    pattern = "".join("(.+?)" if KANJI_PATTERN.match(p) else re.escape(to_hiragana(p))
                      for p in parts)
    match = re.fullmatch(pattern, reading)
    if not match:
        return f"{{{surface}|{reading}}}"
    groups = iter(match.groups())
    return "".join(f"{{{p}|{next(groups)}}}" if KANJI_PATTERN.match(p) else p for p in parts)


@functools.lru_cache(maxsize=4096)
def auto_ruby(text: str) -> Optional[str]:
    """Furigana markup for standard Japanese from the dictionary (unidic-lite); None if
    there is no kanji or the result would not reproduce the text exactly."""
    if not KANJI_PATTERN.search(text):
        return None
    try:
        out = []
        for word in shared_tagger()(text):
            out.append(word.white_space)
            kana = getattr(word.feature, "kana", None)
            if KANJI_PATTERN.search(word.surface) and kana and kana != "*":
                out.append(align(word.surface, to_hiragana(kana)))
            else:
                out.append(word.surface)
        ruby = "".join(out)
    except Exception:  # furigana is a reading aid: never fail a message for it
        logger.exception("furigana: could not annotate a message")
        return None
    return ruby if plain(ruby) == text else None
