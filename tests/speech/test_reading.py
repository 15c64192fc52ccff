"""Reading for the ear: what the voice says for what the screen shows."""
from __future__ import annotations

import re

import pytest

from bot.catalog.load import load_catalog
from bot.settings import Settings
from bot.speech import for_the_ear
from bot.speech.answers import catalog_answers
from bot.speech.engines import split_sentences
from bot.speech.reading import morae

# A run of digits joined by a separator (0120-95-0178, 8:30, 12/29, 1,000) or a mark the voice
# must not read: none may survive.
UNREADABLE = re.compile(r"\d[-‐:：/／,，.．〜~～]\d|[□■・•●【】「」『』（）()〜~～{}|:：/]")


@pytest.mark.parametrize("shown, spoken", [
    ("電話：0120-95-0178", "電話、ゼロイチニーゼロ、キューゴー、ゼロイチナナハチ。"),
    ("受付は8:30〜17:15です。", "受付は8時30分から17時15分です。"),
    ("休みは12/29〜1/3です。", "休みは12月29日から1月3日です。"),
    ("手数料は1,000円です。", "手数料は1000円です。"),
    ("□ 本人確認書類\n・ 印鑑\n• 通帳", "本人確認書類。\n印鑑。\n通帳。"),
    ("【転入届】\n「市役所前」で下車（徒歩1分）", "転入届。\n市役所前で下車、徒歩1分。"),
    ("次は11月26日（木）9:00です。", "次は11月26日、木曜日、9時です。"),
    ("サンプル市中央1-1-1", "サンプル市中央1の1の1。"),
    ("1. 転入届 — 14日以内", "1、転入届、14日以内。"),
])
def test_written_forms_are_spoken_forms(shown, spoken):
    assert for_the_ear(shown) == spoken


def test_furigana_gives_the_reading_and_word_spaces_go():
    assert for_the_ear("{窓口|まどぐち}は 1かいの 2ばん です", "easy") == "まどぐちは1かいの2ばんです。"
    # In Japanese answers markup marks a word the dictionary misreads: the voice says the reading.
    assert for_the_ear("{角|かど}の{窓口|まどぐち}へ", "ja") == "かどのまどぐちへ。"


def test_english_reads_digits_and_times_in_english():
    spoken = for_the_ear("Call 0120-95-0178 (8:30–17:15, closed 12/29–1/3).", "en")
    assert "zero one two zero, nine five, zero one seven eight" in spoken
    assert "8 30" in spoken and "December 29" in spoken
    assert not UNREADABLE.search(spoken)


@pytest.fixture(scope="module")
def answers():
    return catalog_answers(load_catalog(Settings().catalog_dir), ("ja", "easy", "en"))


def test_every_catalog_answer_reads_cleanly(answers):
    assert len(answers) > 300  # every procedure's summary and aspects, checklists, fixed replies
    for language, text in answers:
        spoken = for_the_ear(text, language)
        assert spoken.strip(), text
        assert not UNREADABLE.search(spoken), f"{language}: {spoken!r}"
        assert split_sentences(spoken), text


def test_every_japanese_sentence_has_a_mora_count(answers):
    """The pace test's counter works on catalog text (numbers excepted: UniDic has no reading)."""
    for language, text in answers:
        if language == "en":
            continue
        for sentence in split_sentences(for_the_ear(text, language)):
            if not re.search(r"[0-9A-Za-z]", sentence):
                assert morae(sentence) > 0, sentence
