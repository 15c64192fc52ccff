"""The city's FAQ as a search index: which entry asks what the resident asks, and how surely.

Each entry is indexed by its question (every language it has) and its variants, one document
each; an entry scores as its best document. Documents and queries are read by the NLU's own
tokenizer (bot/nlu/japanese_tokenizer.py: UniDic lemmas, katakana readings, romaji read as kana),
so 「そだいごみ」, 「粗大ゴミ」 and 「sodaigomi」 meet. Features: content-word lemmas, plus
character bigrams and trigrams of the joined katakana reading (kana-only and mis-segmented
writing); weighted TF-IDF and cosine similarity (scikit-learn, installed with Rasa).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from bot.catalog.model import FaqEntry
from bot.text import normalize_training

# Parts of speech whose lemmas carry the matter asked about (UniDic pos1).
_CONTENT_POS = {"名詞", "動詞", "形容詞", "形状詞", "副詞", "代名詞", "接頭辞", "接尾辞", ""}
# Lemmas that every question has: they say nothing about which entry it is.
_STOP_LEMMAS = frozenset(
    "する ある いる なる できる 出来る 行く 来る 思う 言う いう 教える 知る 分かる わかる 聞く "
    "良い いい よい 欲しい ほしい の こと もの ため よう 方 かた 方法 どう どこ いつ なに 何 誰 "
    "どれ どの どうやって ない 下さる くださる ござる です ます お ご 御 さん 様 くれる もらう "
    "貰う 頂く いただく 今 ちょっと 一寸 あの その この それ これ 私 僕 "
    "the a an i my me is are do does can could how what where when which please want need to of for "
    "in on at it and or you your we be with about there this that".split())


@dataclass(frozen=True)
class FaqMatch:
    entry: FaqEntry
    score: float  # cosine similarity of the best document of the entry, 0 … 1


class FaqIndex:
    """Built once per catalog (≈1 s for 150 entries); `search` takes well under a millisecond."""

    def __init__(self, entries: Sequence[FaqEntry]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        from bot.nlu.japanese_tokenizer import FugashiJapaneseTokenizer

        self._tokenizer = FugashiJapaneseTokenizer(FugashiJapaneseTokenizer.get_default_config())
        self._lock = threading.Lock()  # MeCab's tagger is not shared between threads
        self.entries: List[FaqEntry] = list(entries)
        self._owner: List[int] = []
        documents: List[List[str]] = []
        for number, entry in enumerate(self.entries):
            texts = list(entry.question.values()) + [v for vs in entry.variants.values() for v in vs]
            for text in dict.fromkeys(normalize_training(t) for t in texts if t.strip()):
                documents.append(self.features(text))
                self._owner.append(number)
        self._vectorizer: Optional[TfidfVectorizer] = None
        if documents:
            self._vectorizer = TfidfVectorizer(analyzer=lambda features: features, sublinear_tf=True)
            self._matrix = self._vectorizer.fit_transform(documents)

    def features(self, text: str) -> List[str]:
        """Lemmas of content words (`w:`) and reading n-grams (`r:`) of one text."""
        with self._lock:
            words = self._tokenizer.analyze(normalize_training(text))
        lemmas = [lemma for _, _, lemma, _, pos in words if pos in _CONTENT_POS and lemma not in _STOP_LEMMAS]
        reading = "".join(r for _, _, lemma, r, pos in words if lemma not in _STOP_LEMMAS and pos != "助詞")
        grams = [reading[i:i + n] for n in (2, 3) for i in range(len(reading) - n + 1)]
        return [f"w:{lemma}" for lemma in lemmas] * 2 + [f"r:{gram}" for gram in grams]

    def search(self, text: str, limit: int = 3) -> List[FaqMatch]:
        """The best `limit` entries for `text`, best first (an entry once, at its best document)."""
        if self._vectorizer is None or not text.strip():
            return []
        query = self._vectorizer.transform([self.features(text)])
        if query.nnz == 0:
            return []
        scores = (self._matrix @ query.T).toarray().ravel()
        best: Dict[int, float] = {}
        for document in scores.argsort()[::-1]:
            score = float(scores[document])
            if score <= 0 or len(best) >= limit:
                break
            owner = self._owner[document]
            best.setdefault(owner, score)
        return [FaqMatch(self.entries[number], score) for number, score in best.items()]
