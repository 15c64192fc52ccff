"""The first sentence of the first reply answers the question asked (issue 9, item 5).

Realistic questions, typed and as a phone recognizer writes them (no punctuation, fillers), go
to the real server (REST channel, real model, fake clock: Saturday 2026-11-14 09:05, the 2nd
Saturday, so 市民課 is open until 12:00 and the other counters are closed). Each row says how the
first sentence must begin and what facts it must hold. The questions are written apart from the
catalog's training examples (a test below checks that none of them is one).
"""
import uuid
from typing import Tuple

import pytest

from bot.catalog import load_catalog
from bot.catalog.sentences import first_sentence
from bot.settings import PROJECT_ROOT
from bot.text import example_key
from channels.voice import split_parts

CATALOG = load_catalog(PROJECT_ROOT / "intents")

# (question, language, the first sentence starts with, facts it contains, procedure the answer is about)
QUESTIONS: Tuple[Tuple[str, str, str, Tuple[str, ...], str], ...] = (
    # the example, typed and spoken
    ("コンビニで住民票はとれますか", "ja", "はい", ("暗証番号", "カード", "6:30", "23:00", "200円"),
     "residence_certificate|convenience_store_certificates"),
    ("えーと あのー コンビニで住民票ってとれるんかな", "ja", "はい", ("暗証番号", "6:30", "23:00", "200円"),
     "residence_certificate|convenience_store_certificates"),
    ("課税証明書はコンビニでも出してもらえますか", "ja", "はい", ("暗証番号", "6:30", "23:00", "200円"),
     "tax_certificate|convenience_store_certificates"),
    # online / post: はい／いいえ computed from the catalog's ways
    ("転入届はオンラインでできますか", "ja", "いいえ", ("オンライン",), "moving_in"),
    ("転出の届けはスマホからでも出せますか", "ja", "はい", ("マイナポータル",), "moving_out"),
    ("住民票を郵送で請求することはできますか", "ja", "はい", ("定額小為替",), "residence_certificate"),
    ("戸籍謄本は郵送で取り寄せられますか", "ja", "いいえ", ("郵送",), "family_register"),
    ("マイナ保険証の登録ってスマホでできるの", "ja", "はい", ("マイナポータル",), "mynumber_health_insurance"),
    # fees: the amount first; 「無料ですか」「かかりますか」 get はい／いいえ
    ("住民票の写しは1通いくらですか", "ja", "窓口は1通300円", ("300円", "200円"), "residence_certificate"),
    ("戸籍謄本の手数料を教えてください", "ja", "戸籍謄本・抄本は1通450円", ("450円",), "family_register"),
    ("マイナンバーカードを初めて作るのは無料ですか", "ja", "はい", ("無料",), "mynumber_apply"),
    ("印鑑証明書を取るのにお金はかかりますか", "ja", "はい", ("300円",), "seal_registration"),
    ("電子証明書の更新にお金はかかりますか", "ja", "いいえ", ("無料",), "mynumber_cert_renewal"),
    # deadlines: the deadline sentence first
    ("転入届はいつまでに出さないといけないですか", "ja", "住み始めた日から14日以内", ("14日以内",), "moving_in"),
    ("赤ちゃんの出生届の期限を知りたいです", "ja", "生まれた日を含めて14日以内", ("14日以内",), "birth_registration"),
    ("死亡届っていつまでに出すの", "ja", "死亡届は", ("7日以内",), "death_procedures"),
    # documents: how many things and the key one, then the list
    ("転入届に必要なものは何ですか", "ja", "転入届の持ち物は", ("転出証明書", "3点"), "moving_in"),
    ("印鑑登録のときは何を持っていけばいいですか", "ja", "印鑑登録・印鑑登録証明書の持ち物は", ("登録する印鑑",),
     "seal_registration"),
    # hours (is it open now) and place (where)
    ("市民課の窓口は今開いていますか", "ja", "はい", ("市民課", "開いています", "12:00"), "-"),
    ("住民票の窓口は何時から何時までですか", "ja", "市民課の窓口は今開いています", ("12:00",), "-"),
    ("転入届の受付の場所はどこですか", "ja", "市民課の窓口は本庁舎", ("1階", "2番窓口"), "-"),
    ("介護保険の申請の窓口はどこにありますか", "ja", "介護保険課の窓口は本庁舎", ("2階", "7番窓口"), "-"),
    # the procedure itself: its lead
    ("マイナンバーカードをなくしてしまったらどうしたらいいですか", "ja", "なくしたカードは", ("0120-95-0178",),
     "mynumber_lost"),
    ("転入の手続きについて教えてください", "ja", "転入届は", ("14日以内", "転出証明書"), "moving_in"),
    ("婚姻届の証人は何人必要ですか", "ja", "婚姻届は", ("証人2人",), "marriage_registration"),
    ("要介護認定ってどうやって申請するんですか", "ja", "要介護認定は", ("介護保険課", "30日"), "nursing_care"),
    # a yes/no question about the procedure itself: はい, then the lead
    ("転出届は前もって出しておけますか", "ja", "はい、転出届は", ("14日前",), "moving_out"),
    # a condition the catalog cannot judge: no guessed はい, the lead instead
    ("住民票は代理の人でもとれますか", "ja", "住民票の写しは", ("300円",), "residence_certificate"),
    # English
    ("Could I pick up a copy of my residence record at a convenience store?", "en", "Yes",
     ("PIN", "6:30", "23:00", "200 yen"), "residence_certificate|convenience_store_certificates"),
    ("I moved here from another city. Can I file the moving-in notice online?", "en", "No", ("online",),
     "moving_in"),
    ("Is the tax certificate something I can get at a konbini?", "en", "Yes", ("200 yen",),
     "tax_certificate|convenience_store_certificates"),
    ("How much does a copy of the family register cost?", "en", "450 yen", ("450 yen",), "family_register"),
)


def ask(server, question: str):
    sender = f"first-{uuid.uuid4().hex[:12]}"
    return server.say(sender, question), sender


@pytest.mark.parametrize("question,language,start,facts,procedure", QUESTIONS, ids=[q[0] for q in QUESTIONS])
def test_the_first_sentence_answers_the_question(server, question, language, start, facts, procedure):
    reply, sender = ask(server, question)
    assert reply, f"no reply to {question!r}"
    first = first_sentence(reply[0]["text"], language)
    assert first.startswith(start), f"{question!r} → {first!r}"
    for fact in facts:
        assert fact in first, f"{question!r} → {first!r} lacks {fact!r}"
    if procedure != "-":
        slot = server.tracker(sender)["slots"].get("procedure")
        assert slot in procedure.split("|"), f"{question!r} was taken for {slot}"
    # The phone speaks the same texts in parts: the first part begins with the same sentence.
    assert split_parts([m["text"] for m in reply if m.get("text")])[0].startswith(first)


def test_repeating_gives_the_same_direct_answer(server):
    sender = f"first-{uuid.uuid4().hex[:12]}"
    first = server.say(sender, "転入届はオンラインでできますか")
    again = server.say(sender, "もう一度お願いします")
    assert first_sentence(first[0]["text"], "ja").startswith("いいえ")
    assert first_sentence(again[0]["text"], "ja") == first_sentence(first[0]["text"], "ja")


def test_a_follow_up_yes_no_question_uses_the_procedure_of_the_conversation(server):
    sender = f"first-{uuid.uuid4().hex[:12]}"
    server.say(sender, "住民票の写しがほしいです")
    reply = server.say(sender, "それってコンビニでもとれますか")
    first = first_sentence(reply[0]["text"], "ja")
    assert first.startswith("はい") and "200円" in first and "6:30" in first


def test_a_button_press_answers_with_the_fact_first(server):
    """Buttons carry no question words: the ways button says which ways there are, はい first."""
    sender = f"first-{uuid.uuid4().hex[:12]}"
    server.say(sender, "マイナンバーカードを作りたい")
    reply = server.say(sender, '/ask_online{"procedure":"mynumber_apply"}')
    first = first_sentence(reply[0]["text"], "ja")
    assert first.startswith("はい") and "オンライン" in first and "郵送" in first


def test_the_questions_are_not_training_examples():
    trained = {example_key(text) for examples in CATALOG.intent_examples().values()
               for language in examples.values() for text in language}
    copied = [question for question, *_ in QUESTIONS if example_key(question) in trained]
    assert not copied
    assert len(QUESTIONS) >= 25
