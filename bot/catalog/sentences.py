"""Where a sentence ends, in Japanese and English: one rule for the catalog check (a lead is one
sentence) and for what an answer says first."""
from __future__ import annotations

import re
from typing import List

# Japanese ends a sentence with 。！？ (a line break ends it too: a list item is a sentence of its own).
JA_END = re.compile(r"(?<=[。！？!?])|\n")
# English: . ! ? followed by a space and a capital (or a quote), or a line break.
EN_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“])|\n")


def sentences(text: str, language: str) -> List[str]:
    """`text` cut into its sentences, without empty pieces."""
    pattern = EN_END if language == "en" else JA_END
    return [piece.strip() for piece in pattern.split(text) if piece.strip()]


def first_sentence(text: str, language: str) -> str:
    found = sentences(text, language)
    return found[0] if found else ""
