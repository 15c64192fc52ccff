"""Fillers and self-corrections in spoken (and typed) text, before NLU reads it."""
import pytest

from bot.speech_text import clean_speech, meaning_spans


@pytest.mark.parametrize("spoken, meant", [
    ("えーとマイナンバーカードをあのーなくしてしもうた", "マイナンバーカードをなくしてしもうた"),
    ("えっとそのー住民票がほしいんですけど", "住民票がほしいんですけど"),
    ("えーとですね介護保険の申請を", "介護保険の申請を"),
    ("うーん転出届はどこで出すの", "転出届はどこで出すの"),
    ("あの 住民票 とりたい", "住民票 とりたい"),
])
def test_fillers_are_dropped(spoken, meant):
    assert clean_speech(spoken) == meant


@pytest.mark.parametrize("spoken, meant", [
    ("住民票じゃなくて印鑑証明", "印鑑証明"),
    ("住民票やなくて印鑑証明がいるねん", "印鑑証明がいるねん"),
    ("転入あ違う転出", "転出"),
    ("転入あっちがう転出の届け", "転出の届け"),
    ("引っ越しの手続き、いや、やっぱり住民票がほしい", "住民票がほしい"),
    ("カードの更新いや違う電子証明書の更新", "電子証明書の更新"),
    ("マイナンバーカードの更新じゃなかった電子証明書の更新", "電子証明書の更新"),
    ("出生届ちがうちがう死亡届", "死亡届"),
    ("えーと転入じゃなくてあのー転出やった", "転出やった"),
    # The last correction wins.
    ("住民票じゃなくて戸籍じゃなくて印鑑証明", "印鑑証明"),
])
def test_only_what_follows_a_self_correction_is_kept(spoken, meant):
    assert clean_speech(spoken) == meant


@pytest.mark.parametrize("text", [
    "本人じゃなくても受け取れますか",       # じゃなくても: a condition, not a correction
    "本人じゃなくていいですか",
    "代理人じゃなくて大丈夫ですか",
    "住民票じゃなくて",                     # nothing follows: nothing to keep instead
    "本人じゃなかったらだめですか",
    "暗証番号を三回間違えた",               # 間違えた / 違う alone are ordinary words
    "住所が違う",
    "やっぱり窓口に行かないとだめですか",    # やっぱり alone is not a correction
    "あの書類はどこでもらえますか",           # あの before a noun is a demonstrative
    "あっちの窓口",
    "まいなんばーかーど なくしてもうた",       # kana-only words keep their ん
    "ええ、そうです",                        # ええ is yes, not a filler
    "ちゃうちゃう",
    "いや、やっぱりいいです",                # a withdrawal, not a new request
    "えーと",                                # only a filler: kept, so NLU still sees something
    "I lost my card",
])
def test_ordinary_text_is_unchanged(text):
    assert clean_speech(text) == text


def test_spans_are_offsets_into_the_text_itself():
    text = "えーと転入あ違う転出のあのー手続き"
    spans = meaning_spans(text)
    assert [text[a:b] for a, b in spans] == ["転出の", "手続き"]
