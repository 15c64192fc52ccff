"""Reading for the ear: what a written answer sounds like when it is read aloud.

A screen shows 「0120-95-0178」「8:30〜17:15」「□ 本人確認書類」; a voice must say
ゼロイチニーゼロ、キューゴー、ゼロイチナナハチ and 8時30分から17時15分, and must not read
list marks or brackets. Open JTalk and Google both misread such runs, so the text is rewritten
before either engine sees it. The catalog's furigana ({漢字|かんじ}) gives the reading of words
the dictionary gets wrong.
"""
from __future__ import annotations

import re
import unicodedata

from bot.catalog import furigana

# Digits read one by one, as a phone number is said in Japan (2 → ニー, 5 → ゴー: two morae).
DIGIT_KANA = {"0": "ゼロ", "1": "イチ", "2": "ニー", "3": "サン", "4": "ヨン",
              "5": "ゴー", "6": "ロク", "7": "ナナ", "8": "ハチ", "9": "キュー"}
DIGIT_EN = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four",
            "5": "five", "6": "six", "7": "seven", "8": "eight", "9": "nine"}

PHONE = re.compile(r"(?<![\d.,/-])(0\d{1,4})-(\d{1,4})-(\d{3,4})(?![\d.,/-])")
# A block address (中央1-1-1): 1の1の1, as it is said.
ADDRESS = re.compile(r"(?<![\d.,/-])([1-9]\d{0,3})-(\d{1,4})(?:-(\d{1,4}))?(?![\d.,/-])")
TIME = re.compile(r"(?<![\d:])([01]?\d|2[0-4]):([0-5]\d)(?![\d:])")
DATE = re.compile(r"(?<![\d/])(1[0-2]|0?[1-9])/(3[01]|[12]\d|0?[1-9])(?![\d/])")
GROUPED_NUMBER = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d])")
RANGE = re.compile(r"[ \t\u3000]*[〜~～][ \t\u3000]*")
LIST_MARK = re.compile(r"^[ \t\u3000]*[□■・•●○◆◇►\-*][ \t\u3000]*", re.MULTILINE)
NUMBERED = re.compile(r"^[ \t\u3000]*(\d+)\.[ \t\u3000]+", re.MULTILINE)
INLINE_DOT = re.compile(r"[・•]")
WEEKDAY = re.compile(r"[（(]([月火水木金土日])[）)]")
BRACKETS = re.compile(r"[【】「」『』〔〕［］\[\]<>＜＞《》〈〉]")
PARENS = re.compile(r"[ \t\u3000]*[（(]([^（）()\n]*)[）)][ \t\u3000]*")
DASH = re.compile(r"[ \t\u3000]*[—–―][ \t\u3000]*")
SLASH = re.compile(r"[ \t\u3000]*/[ \t\u3000]*")
COLON = re.compile(r"[ \t\u3000]*[:：][ \t\u3000]*")
SPACES = re.compile(r"[ \t\u3000]+")
JAPANESE_SPACE = re.compile(r"(?<=[^\x00-\x7f]) (?=[^\x00-\x7f0-9])|(?<=[^\x00-\x7f]) (?=\d)|(?<=\d) (?=[^\x00-\x7f])")
LINE_END = re.compile(r"\s*\n+\s*")
SENTENCE_END = tuple("。．！？!?、")


def for_the_ear(text: str, language: str = "ja") -> str:
    """`text` (an answer as shown, possibly with furigana markup) as it should be spoken."""
    # Furigana in a Japanese text marks a word the dictionary would misread: say the reading.
    text = furigana.plain(text) if language == "en" else furigana.kana(text)
    text = unicodedata.normalize("NFKC", text)
    english = language == "en"
    text = PHONE.sub(lambda m: phone_reading(m, english), text)
    text = TIME.sub(lambda m: time_reading(m, english), text)
    if not english:
        text = DATE.sub(lambda m: f"{int(m.group(1))}月{int(m.group(2))}日", text)
        text = RANGE.sub("から", text)
        text = ADDRESS.sub(lambda m: "の".join(group for group in m.groups() if group), text)
        text = WEEKDAY.sub(lambda m: f"、{m.group(1)}曜日、", text)
    else:
        text = DATE.sub(lambda m: f"{MONTHS_EN[int(m.group(1)) - 1]} {int(m.group(2))}", text)
        text = RANGE.sub(" to ", text)
        text = ADDRESS.sub(lambda m: " ".join(group for group in m.groups() if group), text)
    text = GROUPED_NUMBER.sub(lambda m: m.group(0).replace(",", ""), text)
    text = LIST_MARK.sub("", text)
    text = NUMBERED.sub(lambda m: f"{m.group(1)}, " if english else f"{m.group(1)}、", text)
    text = BRACKETS.sub(" " if english else "", text)
    text = PARENS.sub(lambda m: paren_reading(m.group(1), english), text)
    separator = ", " if english else "、"
    for pattern in (DASH, SLASH, COLON, INLINE_DOT):
        text = pattern.sub(separator, text)
    return join_lines(text, english)


MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December")


def phone_reading(match: "re.Match[str]", english: bool) -> str:
    digits = DIGIT_EN if english else DIGIT_KANA
    parts = [(" " if english else "").join(digits[d] for d in group) for group in match.groups()]
    return (", " if english else "、").join(parts) + ("," if english else "、")


def time_reading(match: "re.Match[str]", english: bool) -> str:
    hour, minute = int(match.group(1)), int(match.group(2))
    if english:  # "8 30" is read "eight thirty", "17 15" "seventeen fifteen"
        return f"{hour} o'clock" if minute == 0 else f"{hour} {minute:02d}"
    return f"{hour}時" if minute == 0 else f"{hour}時{minute}分"


def paren_reading(inner: str, english: bool) -> str:
    """A note in brackets becomes its own clause (a pause before and after), not a symbol."""
    inner = inner.strip()
    if not inner:
        return ""
    return f", {inner}, " if english else f"、{inner}、"


def join_lines(text: str, english: bool) -> str:
    """One line per sentence: a line that ends without punctuation gets a 。 (a pause)."""
    lines = [SPACES.sub(" ", line).strip(" 、,") for line in LINE_END.split(text)]
    if not english:  # やさしい日本語 puts spaces between words for the eye; a voice would pause at each
        lines = [JAPANESE_SPACE.sub("", line) for line in lines]
    out = []
    for line in lines:
        if not line:
            continue
        if not line.endswith(SENTENCE_END + (".",)):
            line += "." if english else "。"
        out.append(line)
    spoken = "\n".join(out)
    return re.sub(r"[、,]\s*[、,]+|、。|。、|,\.", lambda m: "。" if "。" in m.group(0) else m.group(0)[0], spoken)


SMALL_KANA = set("ャュョァィゥェォヮ")
KATAKANA = re.compile(r"[\u30a1-\u30faー]")


def morae(reading: str) -> int:
    """Morae of a Japanese reading (UniDic's pronunciation of each word; ャュョ join the kana
    before them; ッ, ン and ー count). Digits have no pronunciation in UniDic: spell them first."""
    from bot.text import shared_tagger, to_katakana

    count = 0
    for word in shared_tagger()(reading):
        pron = getattr(word.feature, "pron", None)
        if not pron or pron == "*":
            if any(ch.isdigit() for ch in word.surface):
                raise ValueError(f"no reading for {word.surface!r}: spell numbers out before counting morae")
            pron = to_katakana(word.surface)
        count += sum(1 for ch in pron if KATAKANA.match(ch) and ch not in SMALL_KANA)
    return count
