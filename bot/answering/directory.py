"""総合案内: which section handles a matter, from the words of the matters each one handles.

Every counter of city.yml may list `topics` (「ごみ」「粗大ごみ」…, "garbage" …). A question
names a topic when its text contains the word, or, for kana-only and romaji writing, when its
katakana reading contains the word's reading. The longest topic named wins (「粗大ごみ」 over
「ごみ」), so a more specific section is preferred.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import List, Optional, Pattern, Tuple

from bot.answering.retrieval import Reader
from bot.catalog.model import Catalog, Counter
from bot.text import KANA_ONLY

# A topic shorter than this (「本」) would be found inside unrelated words (「日本」「本庁舎」).
MIN_TOPIC_CHARS = 2
# Readings shorter than this match too much by accident (「ゴミ」 is fine, 「ホン」 is not).
MIN_READING_CHARS = 3


@dataclass(frozen=True)
class RouteMatch:
    counter: Counter
    topic: str  # the topic word found, in the catalog's writing


class SectionDirectory:
    def __init__(self, catalog: Catalog, reader: Reader) -> None:
        self.reader = reader
        # (topic as written, lower-cased NFKC form, katakana reading or "", English word pattern, counter),
        # longest first
        self._topics: List[Tuple[str, str, str, Optional[Pattern[str]], Counter]] = []
        for counter in catalog.counters.values():
            for language, words in counter.topics.items():
                for word in words:
                    key = unicodedata.normalize("NFKC", word).lower().strip()
                    if len(key) < MIN_TOPIC_CHARS:
                        continue
                    reading = reader.reading(key) if language == "ja" else ""
                    # A short reading matches by accident inside longer ones (本 ホン), unless the
                    # topic is written in kana itself (ごみ ゴミ: 「moeru gomi」 read as kana).
                    short = len(reading) < MIN_READING_CHARS and not KANA_ONLY.match(key)
                    pattern = re.compile(rf"\b{re.escape(key)}") if key.isascii() else None
                    self._topics.append((word, key, "" if short or len(reading) < 2 else reading, pattern, counter))
        self._topics.sort(key=lambda topic: -len(topic[1]))

    def route(self, text: str) -> Optional[RouteMatch]:
        """The section whose longest topic `text` names; None when it names none."""
        key = unicodedata.normalize("NFKC", text).lower()
        reading = self.reader.reading(text)
        for word, topic, topic_reading, pattern, counter in self._topics:
            if pattern is not None:
                if pattern.search(key):
                    return RouteMatch(counter, word)
            elif topic in key or (topic_reading and topic_reading in reading):
                return RouteMatch(counter, word)
        return None
