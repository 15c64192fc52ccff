"""Text rules every layer shares: NFKC normalization, kana, the fugashi tagger, languages.

Each rule lives here once so the channels, the catalog compiler, the NLU component and
the redaction agree on what "the same text" means. Three normalizations exist because
three questions are asked of a text; their names say which:

- `normalize_inbound`: what a resident sent, as Rasa and the database see it (NFKC, trimmed;
  inner spaces and line breaks kept).
- `normalize_training`: a training example as written to Rasa's data (NFKC, runs of
  whitespace become one space), so examples look like inbound messages.
- `example_key`: the form that detects one example written under two intents
  (`normalize_training`'s spacing, lower-cased).
"""
from __future__ import annotations

import re
import unicodedata
from typing import Tuple

# The reply languages: Japanese, English and やさしい日本語 (plain Japanese with furigana).
LANGUAGES: Tuple[str, ...] = ("ja", "en", "easy")


def normalize_inbound(text: str) -> str:
    """NFKC (full-width digits and half-width kana become standard) and trimmed."""
    return unicodedata.normalize("NFKC", text).strip()


def normalize_training(text: str) -> str:
    """NFKC, whitespace runs collapsed to one space, trimmed: a training example as Rasa sees it."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def example_key(text: str) -> str:
    """NFKC, whitespace runs collapsed, trimmed, lower-cased: equal keys are the same example."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().lower()
