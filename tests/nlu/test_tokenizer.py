import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.japanese_tokenizer import FugashiJapaneseTokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return FugashiJapaneseTokenizer(FugashiJapaneseTokenizer.get_default_config())


def tokens(tokenizer, text):
    return tokenizer.tokenize(Message(data={"text": text}), "text")


def test_japanese_is_split_into_words_with_offsets(tokenizer):
    text = "マイナンバーカードをなくしました"
    result = tokens(tokenizer, text)
    assert [t.text for t in result][:3] == ["マイ", "ナンバー", "カード"]
    for token in result:
        assert text[token.start:token.end] == token.text


def test_lemmas_unify_conjugations_and_kana_writing(tokenizer):
    polite = {t.lemma for t in tokens(tokenizer, "カードを無くしました")}
    casual = {t.lemma for t in tokens(tokenizer, "カードをなくした")}
    assert "無くす" in polite and "無くす" in casual


def test_punctuation_is_dropped_and_english_is_lowercased(tokenizer):
    result = tokens(tokenizer, "I lost my card!")
    assert [t.text for t in result] == ["I", "lost", "my", "card"]
    assert result[0].lemma == "i"
    assert "、" not in [t.text for t in tokens(tokenizer, "はい、そうです。")]


def test_text_without_words_still_gives_one_token(tokenizer):
    assert len(tokens(tokenizer, "？？？")) == 1


def test_mixed_text_keeps_offsets(tokenizer):
    text = "住民票 を 2通 ください"
    for token in tokens(tokenizer, text):
        assert text[token.start:token.end] == token.text


def test_fillers_and_corrected_words_are_not_read_but_offsets_stay(tokenizer):
    text = "えーと住民票じゃなくてあのー印鑑証明"
    result = tokens(tokenizer, text)
    assert [t.text for t in result] == ["印鑑", "証明"]
    for token in result:
        assert text[token.start:token.end] == token.text
