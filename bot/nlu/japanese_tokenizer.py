"""A Rasa tokenizer for Japanese (fugashi + unidic-lite), with lemmas.

No built-in Rasa tokenizer segments Japanese. UniDic lemmas also map kana-only and
conjugated forms to one dictionary form (なくした / 無くしました → 無くす), which lets the
featurizers treat elderly kana-only writing like standard writing. NFKC normalization
happens in the channel layer, not here, so offsets always match the text Rasa stores.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

# Parts of speech that carry no meaning for intent classification.
_SKIPPED_POS = {"補助記号", "空白"}


def _tagger() -> Any:
    import fugashi

    return fugashi.Tagger()


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
        self._tagger = _tagger()

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
        tokens = [
            Token(surface, start, lemma=lemma)
            for surface, start, lemma in self.words(text)
        ]
        if not tokens:  # Rasa needs at least one token, e.g. for "？？？"
            tokens = [Token(text, 0, lemma=text.lower())]
        return self._apply_token_pattern(tokens)

    def words(self, text: Text) -> List[tuple]:
        """(surface, start offset, lemma) for every meaningful word of `text`."""
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
            result.append((surface, start, lemma.lower()))
        return result
