"""Search indexes over the catalog's phrasings: which FAQ entry, or which procedure, asks what
the resident asks, and how surely.

An item (an FAQ entry, a procedure) is indexed by its phrasings — the FAQ's question in every
language and its variants; a procedure's training examples — and by its answer text. Documents
and queries are read by the NLU's own tokenizer (bot/nlu/japanese_tokenizer.py: UniDic lemmas,
katakana readings, romaji read as kana), so 「そだいごみ」, 「粗大ゴミ」 and 「sodaigomi」 meet.
Features: content-word lemmas, plus character bigrams and trigrams of the joined katakana
reading (kana-only and mis-segmented writing); TF-IDF and cosine similarity (scikit-learn,
installed with Rasa).

The procedure index is a second opinion beside the NLU: a question whose nearest phrasing in
the whole catalog is a procedure's is not sent to the FAQ or a section just because the
classifier said `out_of_scope` (bot/answering/source.py).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Dict, Generic, List, Optional, Sequence, Tuple, TypeVar

import numpy as np

from bot.catalog.model import Catalog, FaqEntry
from bot.text import normalize_training

# Parts of speech whose lemmas carry the matter asked about (UniDic pos1).
_CONTENT_POS = {"名詞", "動詞", "形容詞", "形状詞", "副詞", "代名詞", "接頭辞", "接尾辞", ""}
# Parts of speech left out of the written form: particles, auxiliaries, punctuation.
_FUNCTION_POS = {"助詞", "助動詞", "補助記号"}
# Lemmas that every question has: they say nothing about which entry it is.
_STOP_LEMMAS = frozenset(
    "する ある いる なる できる 出来る 行く 来る 思う 言う いう 教える 知る 分かる わかる 聞く "
    "良い いい よい 欲しい ほしい の こと もの ため よう 方 かた 方法 どう どこ いつ なに 何 誰 "
    "どれ どの どうやって ない 下さる くださる ござる です ます お ご 御 さん 様 くれる もらう "
    "貰う 頂く いただく 今 ちょっと 一寸 あの その この それ これ 私 僕 "
    "the a an i my me is are do does can could how what where when which please want need to of for "
    "in on at it and or you your we be with about there this that".split())

Item = TypeVar("Item")


@dataclass(frozen=True)
class Match(Generic[Item]):
    item: Item
    score: float  # 0 … 1 (see PhrasingIndex)


class Reader:
    """Text → features, with the NLU's tokenizer (one MeCab tagger, not shared between threads)."""

    def __init__(self) -> None:
        from bot.nlu.japanese_tokenizer import FugashiJapaneseTokenizer

        self._tokenizer = FugashiJapaneseTokenizer(FugashiJapaneseTokenizer.get_default_config())
        self._lock = threading.Lock()
        self._last: Tuple[str, List[tuple]] = ("", [])  # one message is read by every index in turn

    def analyze(self, text: str) -> List[tuple]:
        with self._lock:
            if self._last[0] != text:
                self._last = (text, self._tokenizer.analyze(text))
            return self._last[1]

    def reading(self, text: str) -> str:
        """The katakana reading of a whole text (romaji read as kana)."""
        return "".join(reading for _, _, _, reading, _ in self.analyze(normalize_training(text)))

    def features(self, text: str) -> List[str]:
        """Lemmas of content words (`w:`), reading n-grams (`r:`) and character bigrams of the
        written words without particles (`s:`: 「市営住託」 still shares 「市営」「住」 with 「市営住宅」)."""
        words = self.analyze(normalize_training(text))
        lemmas = [lemma for _, _, lemma, _, pos in words if pos in _CONTENT_POS and lemma not in _STOP_LEMMAS]
        reading = "".join(r for _, _, lemma, r, pos in words if lemma not in _STOP_LEMMAS and pos != "助詞")
        grams = [reading[i:i + n] for n in (2, 3) for i in range(len(reading) - n + 1)]
        written = "".join(surface for surface, _, _, _, pos in words if pos not in _FUNCTION_POS)
        bigrams = [written[i:i + 2] for i in range(len(written) - 1)]
        return [f"w:{lemma}" for lemma in lemmas] * 2 + [f"r:{gram}" for gram in grams] + [f"s:{b}" for b in bigrams]


class Tfidf:
    """A TF-IDF matrix fitted by scikit-learn; a query is weighted here, the same way (sublinear
    tf, smoothed idf, L2 norm), as a dense vector: scikit-learn's own `transform` costs about 1 ms
    of checks per call, this costs microseconds."""

    def __init__(self, documents: List[List[str]]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(analyzer=lambda features: features, sublinear_tf=True)
        self.matrix = vectorizer.fit_transform(documents).tocsr()
        self.vocabulary: Dict[str, int] = vectorizer.vocabulary_
        self.idf = vectorizer.idf_

    def similarities(self, features: List[str]) -> "np.ndarray":
        counts: Dict[int, int] = {}
        for feature in features:
            column = self.vocabulary.get(feature)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        if not counts:
            return np.zeros(self.matrix.shape[0])
        columns = np.fromiter(counts, dtype=int)
        weights = (1 + np.log(np.fromiter(counts.values(), dtype=float))) * self.idf[columns]
        query = np.zeros(self.matrix.shape[1])
        query[columns] = weights / np.linalg.norm(weights)
        return self.matrix.dot(query)


class PhrasingIndex(Generic[Item]):
    """Items by their phrasings and answers; `search` takes well under a millisecond.

    An item's score mixes three cosines: its best single phrasing, the item as one document (all
    its phrasings together: words spread over several phrasings still meet), and its answer (the
    words the city's reply uses). For the FAQ, best phrasing alone found the right entry for 0.82
    of the held-out FAQ questions, the mix for 0.85, with a clearer gap to unanswerable questions.
    """

    PHRASING_WEIGHT, ITEM_WEIGHT, ANSWER_WEIGHT = 0.3, 0.6, 0.1

    def __init__(self, reader: Reader, items: Sequence[Tuple[Item, Sequence[str], Sequence[str]]]) -> None:
        """`items`: (item, its phrasings, its answer texts)."""
        self.reader = reader
        self.items: List[Item] = [item for item, _, _ in items]
        owners: List[int] = []
        phrasings: List[List[str]] = []
        wholes: List[List[str]] = []
        answers: List[List[str]] = []
        for number, (_, texts, answer_texts) in enumerate(items):
            distinct = dict.fromkeys(normalize_training(text) for text in texts if text.strip())
            features = [reader.features(text) for text in distinct]
            phrasings += features
            owners += [number] * len(features)
            wholes.append([feature for document in features for feature in document])
            answers.append([feature for text in answer_texts for feature in reader.features(text)])
        # Each item's phrasings are one block of rows: its best phrasing is a max over its block.
        self._starts = np.flatnonzero(np.diff(np.array([-1] + owners)) != 0)
        self._owners_with_phrasings = np.array(sorted(set(owners)), dtype=int)
        self._ready = bool(phrasings) and any(phrasings)
        if self._ready:
            self._phrasings, self._wholes, self._answers = Tfidf(phrasings), Tfidf(wholes), Tfidf(answers)

    def scores(self, features: List[str]) -> "np.ndarray":
        """Every item's score for a query's features, in the order of `items`."""
        best = np.zeros(len(self.items))
        if not self._ready or not features:
            return best
        best[self._owners_with_phrasings] = np.maximum.reduceat(self._phrasings.similarities(features), self._starts)
        return (self.PHRASING_WEIGHT * best + self.ITEM_WEIGHT * self._wholes.similarities(features)
                + self.ANSWER_WEIGHT * self._answers.similarities(features))

    def search(self, text: str, limit: Optional[int] = 3) -> List[Match[Item]]:
        """The best `limit` items for `text` (all with a score for None), best first."""
        if not text.strip():
            return []
        scores = self.scores(self.reader.features(text))
        order = [int(number) for number in scores.argsort()[::-1][:limit] if scores[number] > 0]
        return [Match(self.items[number], float(scores[number])) for number in order]


def faq_index(reader: Reader, entries: Sequence[FaqEntry]) -> "PhrasingIndex[FaqEntry]":
    """The FAQ entries by question (every language), variants and answer (ja, en: the easy text's
    furigana markup is not words)."""
    return PhrasingIndex(reader, [
        (entry, list(entry.question.values()) + [v for vs in entry.variants.values() for v in vs],
         [entry.answer.get("ja", ""), entry.answer.get("en", "")])
        for entry in entries])


def procedure_index(reader: Reader, catalog: Catalog) -> "PhrasingIndex[str]":
    """Procedures and life events (by id) by their training examples, and title, lead and summary."""
    items: List[Tuple[str, List[str], List[str]]] = []
    examples: Dict[str, Dict[str, Tuple[str, ...]]] = catalog.intent_examples()
    for pid, procedure in catalog.procedures.items():
        answer = [procedure.title.ja, procedure.lead.ja, procedure.summary.ja, procedure.title.en, procedure.lead.en]
        items.append((pid, [t for texts in examples[pid].values() for t in texts], answer))
    for eid, event in catalog.life_events.items():
        items.append((eid, [t for texts in examples[eid].values() for t in texts], [event.title.ja, event.title.en]))
    return PhrasingIndex(reader, items)

