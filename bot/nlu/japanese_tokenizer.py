"""A Rasa tokenizer for Japanese (fugashi + unidic-lite), with lemmas.

No built-in Rasa tokenizer segments Japanese. UniDic lemmas also map kana-only and
conjugated forms to one dictionary form (なくした / 無くしました → 無くす), which lets the
featurizers treat elderly kana-only writing like standard writing. Fillers and self-corrections
(bot/speech_text.py) are skipped here, for training and inbound text alike. NFKC normalization
happens in the channel layer, not here, so offsets always match the text Rasa stores.

Each token also carries its katakana reading (`token.get("reading")`, "" for non-Japanese
words). `KanaReadingFeaturizer` turns the readings of a message into character n-grams,
so 「かいごほけん の しんせい」 and 「介護保険の申請」 share features even when fugashi
segments the kana-only text into the wrong words.

`VocabularyGuard` (placed after the intent classifier, before the FallbackClassifier)
lowers the confidence of messages whose words never occur in the training data
(「ほげほげ」, "asdfghjkl", emoji), which classifiers otherwise label confidently. It
lives here because it reads the token data written above (part of speech, lemma), and
this file (with bot/text.py, whose kana rules and tagger it uses) is part of the model
fingerprint.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Text, Type

import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.speech_text import meaning_spans
from bot.text import KANA_ONLY, new_tagger, romaji_words, to_katakana

# Parts of speech that carry no meaning for intent classification.
_SKIPPED_POS = {"補助記号", "空白"}


def _reading(surface: Text, feature: Any) -> Text:
    """Katakana reading of one word; "" when it has none (English, emoji, unknown kanji)."""
    kana = getattr(feature, "kana", None)
    if kana and kana != "*" and not surface.isascii():
        return kana
    return to_katakana(surface) if KANA_ONLY.match(surface) else ""


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class FugashiJapaneseTokenizer(Tokenizer):
    """Splits Japanese (and mixed English) text into UniDic words with lemmas."""

    @staticmethod
    def supported_languages() -> Optional[List[Text]]:
        return None

    @staticmethod
    def required_packages() -> List[Text]:
        return ["fugashi", "unidic_lite"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        self._tagger = new_tagger()

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "FugashiJapaneseTokenizer":
        return cls(config)

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        text = message.get(attribute)
        # Resident text (and training examples, the same way) is read without fillers and
        # without what a self-correction took back; offsets stay those of the stored text.
        spans = meaning_spans(text) if attribute == TEXT else [(0, len(text))]
        tokens = [
            Token(surface, begin + start, lemma=lemma, data={"reading": reading, "pos": pos})
            for begin, end in spans
            for surface, start, lemma, reading, pos in self.analyze(text[begin:end])
        ]
        if not tokens:  # Rasa needs at least one token, e.g. for "？？？"
            tokens = [Token(text, 0, lemma=text.lower(), data={"reading": "", "pos": ""})]
        return self._apply_token_pattern(tokens)

    def words(self, text: Text) -> List[tuple]:
        """(surface, start offset, lemma) for every meaningful word of `text`."""
        return [(surface, start, lemma) for surface, start, lemma, _, _ in self.analyze(text)]

    def analyze(self, text: Text) -> List[tuple]:
        """(surface, start offset, lemma, katakana reading, part of speech) for every meaningful word.

        A message typed in romaji (「juuminhyou toritai」) is read as the kana it spells: each
        romaji word's tokens keep the word's offset in the text."""
        romaji = romaji_words(text)
        if not romaji:
            return self._analyze(text)
        result: List[tuple] = []
        done = 0
        for start, end, kana in romaji:
            result += [(s, done + o, lemma, r, p) for s, o, lemma, r, p in self._analyze(text[done:start])]
            result += [(s, start, lemma, r, p) for s, _, lemma, r, p in self._analyze(kana)]
            done = end
        return result + [(s, done + o, lemma, r, p) for s, o, lemma, r, p in self._analyze(text[done:])]

    def _analyze(self, text: Text) -> List[tuple]:
        result = []
        offset = 0
        for word in self._tagger(text):
            surface = word.surface
            start = text.find(surface, offset)
            if start < 0:
                start = offset
            offset = start + len(surface)
            pos = getattr(word.feature, "pos1", None)
            if pos in _SKIPPED_POS:
                continue
            lemma = getattr(word.feature, "lemma", None) or surface
            # UniDic writes loanword lemmas as "カード-card"; keep the Japanese part.
            lemma = lemma.split("-")[0] if "-" in lemma and not surface.isascii() else lemma
            result.append((surface, start, lemma.lower(), _reading(surface, word.feature), pos or ""))
        return result


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class KanaReadingFeaturizer(CountVectorsFeaturizer):
    """Character n-grams of the katakana reading of the message (kanji and kana alike).

    Sentence features use the readings joined without spaces (「カイゴホケンノシンセイ」),
    so the n-grams do not depend on how the words were segmented; sequence features are
    per token as usual. Words without a reading (English, emoji) add nothing here.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**CountVectorsFeaturizer.get_default_config(), "analyzer": "char_wb",
                "min_ngram": 2, "max_ngram": 4}

    def _get_message_tokens_by_attribute(self, message: Message, attribute: Text) -> List[Text]:
        if attribute != TEXT:
            return super()._get_message_tokens_by_attribute(message, attribute)
        return [t.get("reading", "") or "" for t in message.get(TOKENS_NAMES[TEXT]) or []]

    @staticmethod
    def _convert_attribute_tokens_to_texts(attribute_tokens: Dict[Text, List[List[Text]]]) -> Dict[Text, List[Text]]:
        return {
            attribute: [("" if attribute == TEXT else " ").join(tokens) for tokens in token_lists]
            for attribute, token_lists in attribute_tokens.items()
        }

    def _create_features(self, attribute: Text, all_tokens: List[List[Text]]) -> tuple:
        sequence_features, sentence_features = super()._create_features(attribute, all_tokens)
        if attribute == TEXT and self.vectorizers.get(attribute):
            for i, tokens in enumerate(all_tokens):
                if tokens and sentence_features[i] is not None:
                    vector = self.vectorizers[attribute].transform(["".join(tokens)])
                    vector.sort_indices()
                    sentence_features[i] = scipy.sparse.coo_matrix(vector)
        return sequence_features, sentence_features


# Words that say nothing about the topic: only counted when a message has nothing else.
_FUNCTION_POS = {"助詞", "助動詞", "記号", "接頭辞", "接尾辞"}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class VocabularyGuard(GraphComponent, IntentClassifier):
    """Scales intent confidences by how much of the message is known vocabulary.

    coverage = share of the message's content words (all words if it has none) whose lemma
    or surface occurs in the training examples. Below `min_coverage`, every confidence is
    multiplied by (coverage / min_coverage) ** 2, so nonsense (coverage 0) always ends up
    under the FallbackClassifier threshold while real questions (coverage ≥ 0.5 in the
    held-out set) are untouched.
    """

    @classmethod
    def required_components(cls) -> List[Type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"min_coverage": 0.5}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 vocabulary: Optional[set] = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.vocabulary = vocabulary or set()

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "VocabularyGuard":
        return cls(config, model_storage, resource)

    @staticmethod
    def _words(message: Message) -> List[Token]:
        return list(message.get(TOKENS_NAMES[TEXT]) or [])

    def train(self, training_data: TrainingData) -> Resource:
        for example in training_data.intent_examples:
            for token in self._words(example):
                self.vocabulary.update({token.lemma.lower(), token.text.lower()})
        with self._model_storage.write_to(self._resource) as directory:
            (directory / "vocabulary.json").write_text(
                json.dumps(sorted(self.vocabulary), ensure_ascii=False), encoding="utf-8")
        return self._resource

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "VocabularyGuard":
        try:
            with model_storage.read_from(resource) as directory:
                words = json.loads((directory / "vocabulary.json").read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            words = []
        return cls(config, model_storage, resource, set(words))

    def coverage(self, message: Message) -> float:
        tokens = self._words(message)
        content = [t for t in tokens if t.get("pos", "") not in _FUNCTION_POS]
        if not content:  # only particles and the like (「ちゃうちゃう」) or nothing at all (emoji)
            content = tokens
        # A lone kana ("ふ", "ろ") is usually a fragment of mis-segmented kana, not a word:
        # ignored, unless the message is made of nothing else (「ふがが ぴろりん」).
        words = [t for t in content if not (len(t.text) == 1 and KANA_ONLY.match(t.text))]
        if not words:
            return 0.0
        known = sum(t.lemma.lower() in self.vocabulary or t.text.lower() in self.vocabulary for t in words)
        return known / len(words)

    def process(self, messages: List[Message]) -> List[Message]:
        minimum = float(self.config["min_coverage"])
        for message in messages:
            intent = message.get(INTENT)
            if not intent or not self.vocabulary or minimum <= 0:
                continue
            coverage = self.coverage(message)
            if coverage >= minimum:
                continue
            factor = (coverage / minimum) ** 2
            scaled = {**intent, PREDICTED_CONFIDENCE_KEY: intent.get(PREDICTED_CONFIDENCE_KEY, 0.0) * factor}
            ranking = [{**r, PREDICTED_CONFIDENCE_KEY: r[PREDICTED_CONFIDENCE_KEY] * factor}
                       for r in message.get(INTENT_RANKING_KEY) or []]
            message.set(INTENT, scaled, add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages
