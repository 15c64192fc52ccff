"""Spoken text as NLU should read it: fillers dropped, self-corrections resolved.

Phone input is speech-recognizer text: no punctuation, fillers (えーと, あのー), and
self-corrections (「住民票じゃなくて印鑑証明」, 「転入あ違う転出」, 「いや、やっぱり住民票」).
Typed text has the same habits in a milder form, so one rule serves every channel.

The rule answers "which parts of the text mean something", as character spans of the text
itself, so the tokenizer (bot/nlu/japanese_tokenizer.py) can read only those parts while the
offsets, the stored transcript and what staff read keep the resident's own words. The
tokenizer runs for training examples and for inbound messages alike: train and inference
see the same cleaned text. This file is part of the model fingerprint (bot/training.py).

Pure regular expressions, no tagger: UniDic tags the 「ん」 of kana-only 「まいなんばー」 as a
filler, so a part-of-speech rule would cut words that a list of filler forms leaves alone.
"""
from __future__ import annotations

import re
from typing import List, Tuple

Span = Tuple[int, int]

# Fillers: hesitation words that carry no meaning. Bare 「あの」「その」 are demonstratives
# (「あの書類」) and are dropped only when they stand alone (between spaces, punctuation or the
# ends of the text); with a lengthened vowel (あのー, そのう) they are always fillers.
_FILLER_WORDS = (
    r"えーっと|えーと|ええっと|ええと|えっと|えー+|あのー+|あのう|あのぉ|そのー+|そのう"
    r"|うーんと|うーん|うんと|んーと|んー+|まあ+ー*|あー+"
)
_FILLER = re.compile(rf"(?:{_FILLER_WORDS})(?:ですね|ね)?")
_STANDALONE_FILLER = re.compile(r"(?:(?<=^)|(?<=[\s、。,.!?！？]))(?:あの|その|まあ)(?=$|[\s、。,.!?！？])")

# What may follow 「じゃなくて」 in an ordinary sentence (「本人じゃなくても」「代理人じゃなくて
# いいですか」): then it is not a correction.
_NOT_A_CORRECTION = r"(?![\s、,]*(?:も|いい|良い|よい|ええ|大丈夫|かまわ|構わ|結構|平気|OK|ok))"
# Self-correction markers: only what follows the last one is what the resident meant.
# 「違う」「間違えた」 alone are ordinary words (「住所が違う」「暗証番号を間違えた」), so they count
# only after an interjection (あ, いや, ごめん …).
_CORRECTION = re.compile(
    r"(?:じゃ|では|や)なく(?:って|て)" + _NOT_A_CORRECTION
    + r"|(?:じゃ|では|や)なかった(?![らりんのけでかよね])"
    + r"|(?:あっ?|いや|いやいや|ごめん|ごめんなさい|すみません|すいません)[\s、,]*"
      r"(?:違う|ちがう|違った|ちがった|違います|ちがいます|間違えた|まちがえた|間違えました|まちごうた|ちゃう)(?:わ|よ)?"
    + r"|(?:違う|ちがう|ちゃう)[\s、,]*(?:違う|ちがう|ちゃう)"
    + r"|言い間違え(?:た|ました)|いいまちがえ(?:た|ました)"
    + r"|(?:いや|あ|あっ)[\s、,]*(?:やっぱり|やっぱ(?!り))(?![\s、,]*(?:いい|ええ|結構|けっこう|やめ|いら))"
    + r"|もとい"
)
# The corrected request must say something: 「住民票じゃなくて」 alone stays as it is.
_MIN_CORRECTED_CHARS = 2
_PUNCT = " \t\r\n、。,.!?！？"


def _content(text: str) -> str:
    return "".join(ch for ch in text if ch not in _PUNCT)


def meaning_spans(text: str) -> List[Span]:
    """The (start, end) character spans of `text` that NLU should read, in order.

    Everything before the last self-correction marker (and the marker) is dropped, then the
    fillers. When nothing would remain (「えーと」 alone), the whole text is kept.
    """
    start = 0
    for match in _CORRECTION.finditer(text):
        rest = text[match.end():]
        if len(_content(_FILLER.sub("", rest))) >= _MIN_CORRECTED_CHARS:
            start = match.end()
    removed = sorted(
        [m.span() for m in _FILLER.finditer(text, start)]
        + [m.span() for m in _STANDALONE_FILLER.finditer(text, start)]
    )
    spans: List[Span] = []
    position = start
    for begin, end in removed:
        if begin < position:  # overlapping matches
            position = max(position, end)
            continue
        if begin > position:
            spans.append((position, begin))
        position = end
    if position < len(text):
        spans.append((position, len(text)))
    spans = [(a, b) for a, b in spans if _content(text[a:b])]
    return spans or [(0, len(text))]


def clean_speech(text: str) -> str:
    """The text NLU reads: the meaning spans joined (「えーと転入あ違う転出」 → 「転出」)."""
    return "".join(text[a:b] for a, b in meaning_spans(text)).strip()
