"""The city's FAQ as a search index: which entry asks what the resident asks, and how surely.

Each entry is indexed by its question (every language it has) and its variants, one document
each; an entry scores as its best document. Documents and queries are read by the NLU's own
tokenizer (bot/nlu/japanese_tokenizer.py: UniDic lemmas, katakana readings, romaji read as kana),
so 「そだいごみ」, 「粗大ゴミ」 and 「sodaigomi」 meet. Features: content-word lemmas, plus
character bigrams and trigrams of the joined katakana reading (kana-only and mis-segmented
writing); TF-IDF and cosine similarity (scikit-learn, installed with Rasa).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import List, Sequence

import numpy as np

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
    """Built once per catalog (≈1 s for 150 entries); `search` takes about a millisecond.

    An entry's score mixes three cosines: its best single document (question or one variant),
    the entry as one document (all its questions and variants together: words spread over
    several phrasings still meet), and its answer (the words the city's reply uses). The
    weights were chosen with the held-out set's FAQ-labelled questions (docs/answering.md):
    best-document alone found the right entry for 0.82 of them, the mix for 0.85, and it
    separates answerable from unanswerable questions more clearly.
    """

    ENTRY_WEIGHT = 0.5
    ANSWER_WEIGHT = 0.1

    def __init__(self, entries: Sequence[FaqEntry]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        from bot.nlu.japanese_tokenizer import FugashiJapaneseTokenizer

        self._tokenizer = FugashiJapaneseTokenizer(FugashiJapaneseTokenizer.get_default_config())
        self._lock = threading.Lock()  # MeCab's tagger is not shared between threads
        self.entries: List[FaqEntry] = list(entries)
        owners: List[int] = []
        documents: List[List[str]] = []
        whole: List[List[str]] = []
        answers: List[List[str]] = []
        for number, entry in enumerate(self.entries):
            texts = list(entry.question.values()) + [v for vs in entry.variants.values() for v in vs]
            distinct = dict.fromkeys(normalize_training(text) for text in texts if text.strip())
            features = [self.features(text) for text in distinct]
            documents += features
            owners += [number] * len(features)
            whole.append([feature for document in features for feature in document])
            # ja and en only: the easy text's furigana markup is not words
            answers.append([feature for language in ("ja", "en")
                            for feature in self.features(entry.answer.get(language, ""))])
        self._owner = np.array(owners, dtype=int)
        self._ready = bool(documents)
        if self._ready:
            def vectorizer() -> TfidfVectorizer:
                return TfidfVectorizer(analyzer=lambda features: features, sublinear_tf=True)

            self._documents, self._whole, self._answers = vectorizer(), vectorizer(), vectorizer()
            self._document_matrix = self._documents.fit_transform(documents)
            self._whole_matrix = self._whole.fit_transform(whole)
            self._answer_matrix = self._answers.fit_transform(answers)

    def features(self, text: str) -> List[str]:
        """Lemmas of content words (`w:`) and reading n-grams (`r:`) of one text."""
        with self._lock:
            words = self._tokenizer.analyze(normalize_training(text))
        lemmas = [lemma for _, _, lemma, _, pos in words if pos in _CONTENT_POS and lemma not in _STOP_LEMMAS]
        reading = "".join(r for _, _, lemma, r, pos in words if lemma not in _STOP_LEMMAS and pos != "助詞")
        grams = [reading[i:i + n] for n in (2, 3) for i in range(len(reading) - n + 1)]
        return [f"w:{lemma}" for lemma in lemmas] * 2 + [f"r:{gram}" for gram in grams]

    def scores(self, text: str) -> "np.ndarray":
        """Every entry's score for `text` (0 … 1), in the order of `entries`."""
        query = self.features(text)
        best = np.zeros(len(self.entries))
        if not self._ready or not query:
            return best
        documents = (self._document_matrix @ self._documents.transform([query]).T).toarray().ravel()
        np.maximum.at(best, self._owner, documents)
        whole = (self._whole_matrix @ self._whole.transform([query]).T).toarray().ravel()
        answers = (self._answer_matrix @ self._answers.transform([query]).T).toarray().ravel()
        return ((1 - self.ENTRY_WEIGHT - self.ANSWER_WEIGHT) * best + self.ENTRY_WEIGHT * whole
                + self.ANSWER_WEIGHT * answers)

    def search(self, text: str, limit: int = 3) -> List[FaqMatch]:
        """The best `limit` entries for `text`, best first."""
        if not text.strip():
            return []
        scores = self.scores(text)
        order = [int(number) for number in scores.argsort()[::-1][:limit] if scores[number] > 0]
        return [FaqMatch(self.entries[number], float(scores[number])) for number in order]
