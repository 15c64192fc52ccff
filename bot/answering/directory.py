"""総合案内: which section handles a matter, from the words of the matters each one handles.

Every counter of city.yml may list `topics` (「ごみ」「粗大ごみ」…, "garbage" …). A question
names a topic when its text contains the word, or, for kana-only and romaji writing, when its
katakana reading contains the word's reading. The longest topic named wins (「粗大ごみ」 over
「ごみ」), so a more specific section is preferred.
"""
from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import List, Optional, Tuple

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
    def __init__(self, catalog: Catalog) -> None:
        from bot.nlu.japanese_tokenizer import FugashiJapaneseTokenizer

        self._tokenizer = FugashiJapaneseTokenizer(FugashiJapaneseTokenizer.get_default_config())
        self._lock = threading.Lock()
        # (topic as written, lower-cased NFKC form, katakana reading or "", counter), longest first
        self._topics: List[Tuple[str, str, str, Counter]] = []
        for counter in catalog.counters.values():
            for language, words in counter.topics.items():
                for word in words:
                    key = unicodedata.normalize("NFKC", word).lower().strip()
                    if len(key) < MIN_TOPIC_CHARS:
                        continue
                    reading = self.reading(key) if language == "ja" else ""
                    # A short reading matches by accident inside longer ones (本 ホン), unless the
                    # topic is written in kana itself (ごみ ゴミ: 「moeru gomi」 read as kana).
                    short = len(reading) < MIN_READING_CHARS and not KANA_ONLY.match(key)
                    self._topics.append((word, key, "" if short or len(reading) < 2 else reading, counter))
        self._topics.sort(key=lambda topic: -len(topic[1]))

    def reading(self, text: str) -> str:
        with self._lock:
            return "".join(reading for _, _, _, reading, _ in self._tokenizer.analyze(text))

    def route(self, text: str) -> Optional[RouteMatch]:
        """The section whose longest topic `text` names; None when it names none."""
        key = unicodedata.normalize("NFKC", text).lower()
        reading = self.reading(key)
        for word, topic, topic_reading, counter in self._topics:
            if topic.isascii():
                if re.search(rf"\b{re.escape(topic)}", key):
                    return RouteMatch(counter, word)
            elif topic in key or (topic_reading and topic_reading in reading):
                return RouteMatch(counter, word)
        return None
