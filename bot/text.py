"""Text rules every layer shares: NFKC normalization, kana, the fugashi tagger, languages.

The NLU component uses the kana rules and the tagger, so this file is part of the model
fingerprint (bot/training.py): an edit here retrains the model once.

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

import functools
import re
import unicodedata
from typing import Any, List, Optional, Tuple

# The reply languages: Japanese, English and やさしい日本語 (plain Japanese with furigana).
LANGUAGES: Tuple[str, ...] = ("ja", "en", "easy")
# Longest resident message a channel accepts (MADOGUCHI_MAX_MESSAGE_CHARS overrides it).
DEFAULT_MAX_CHARS = 2000

# A word written in kana only (hiragana, katakana, the long-vowel mark).
KANA_ONLY = re.compile(r"^[\u3041-\u309f\u30a0-\u30ffー]+$")
_HIRAGANA_TO_KATAKANA = {code: code + 0x60 for code in range(0x3041, 0x3097)}
_KATAKANA_TO_HIRAGANA = {code: code - 0x60 for code in range(0x30A1, 0x30F7)}


# A surrogate code point on its own is no character: JSON's "\\ud800" escape makes one, and UTF-8
# (the database, MeCab, the logs) refuses to encode it. It becomes U+FFFD, as a browser would show it.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


# Parsed JSON holds a surrogate only where its text had a \uD800–\uDFFF escape (UTF-8 cannot carry one).
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def without_lone_surrogates(value: Any, raw: Optional[bytes] = None) -> Any:
    """`value` (a string or freshly parsed JSON, changed in place) with every lone surrogate, in
    keys too, replaced by U+FFFD. A loop, not recursion: a body may nest thousands deep. Given the
    `raw` JSON it was parsed from, a body without surrogate escapes (nearly all) is not walked."""
    if raw is not None and not SURROGATE_ESCAPE.search(raw):
        return value
    if isinstance(value, str):
        return LONE_SURROGATE.sub("\ufffd", value)
    containers: List[Any] = [value] if isinstance(value, (dict, list)) else []
    while containers:
        container = containers.pop()
        for place, inner in list(container.items() if isinstance(container, dict) else enumerate(container)):
            if isinstance(inner, str):
                inner = container[place] = LONE_SURROGATE.sub("\ufffd", inner)
            elif isinstance(inner, (dict, list)):
                containers.append(inner)
            if isinstance(place, str) and LONE_SURROGATE.search(place):
                del container[place]
                container[LONE_SURROGATE.sub("\ufffd", place)] = inner
    return value


def normalize_inbound(text: str) -> str:
    """NFKC (full-width digits and half-width kana become standard), no lone surrogates, trimmed."""
    return unicodedata.normalize("NFKC", without_lone_surrogates(text)).strip()


def normalize_training(text: str) -> str:
    """NFKC, whitespace runs collapsed to one space, trimmed: a training example as Rasa sees it."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def example_key(text: str) -> str:
    """NFKC, whitespace runs collapsed, trimmed, lower-cased: equal keys are the same example."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().lower()


def to_katakana(text: str) -> str:
    """Hiragana become katakana (readings are compared in katakana, as UniDic writes them)."""
    return text.translate(_HIRAGANA_TO_KATAKANA)


def to_hiragana(text: str) -> str:
    """Katakana become hiragana (furigana is written in hiragana)."""
    return text.translate(_KATAKANA_TO_HIRAGANA)


def new_tagger() -> Any:
    """A fugashi tagger on unidic-lite (~0.3 s to build; not shared between threads by Rasa)."""
    import fugashi

    return fugashi.Tagger()


@functools.lru_cache(maxsize=1)
def shared_tagger() -> Any:
    """One tagger for the process, built on first use (for readings outside the NLU pipeline)."""
    return new_tagger()


# Romaji as residents type it without an IME (「juuminhyou toritai」, 「gomi no hi itsu」): Hepburn
# and kunrei syllables, a doubled consonant for っ, n / n' for ん. A word must be made of these
# syllables alone (jaconv alone turns any English word into kana with stray っ and ん).
_ROMAJI_WORD = re.compile(
    r"(?:(?:([bcdfghjkmprstvwz])(?=\1))?(?:sh|ch|ts|[kgsztdnhbpmrfjvwy]y?|)[aiueo]|n'?)+", re.I)
# Words that are English, never romaji of a question to the city: a message with one is English.
_ENGLISH_ONLY = frozenset(
    "the a i my me have has is are you your do does can could how what where when which please need want and or of "
    "for in on at it we use take make name here home time one like get this that with about lost card".split())
_ROMAJI_TOKEN = re.compile(r"[A-Za-z']+")


def romaji_words(text: str) -> List[Tuple[int, int, str]]:
    """(start, end, hiragana) of each romaji word when `text` is written in romaji; [] otherwise.

    Romaji means: more than half of its Latin words are romaji syllables only, one of them
    has four letters or more, and none is an English-only word ("I lost my card" stays English)."""
    import jaconv

    words = list(_ROMAJI_TOKEN.finditer(text))
    if not words or any(w.group().lower() in _ENGLISH_ONLY for w in words):
        return []
    romaji = [w for w in words if _ROMAJI_WORD.fullmatch(w.group())]
    if len(romaji) * 2 <= len(words) or not any(len(w.group()) >= 4 for w in romaji):
        return []
    return [(w.start(), w.end(), _romaji_to_kana(w.group().lower(), jaconv)) for w in romaji]


_LONG_VOWEL = re.compile(r"([aeo])\1")


def _romaji_to_kana(word: str, jaconv: Any) -> str:
    """Hiragana; a word with a doubled a/e/o (「kaado」「pootaru」) is a loanword: katakana with ー."""
    word = word.replace("n'", "nn")
    if _LONG_VOWEL.search(word):
        return jaconv.hira2kata(jaconv.alphabet2kana(_LONG_VOWEL.sub(r"\1-", word)))
    return jaconv.alphabet2kana(word)
