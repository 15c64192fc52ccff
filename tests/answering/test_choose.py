"""Where an answer comes from (bot/answering): the FAQ index, the section directory and the
decision, on a small catalog made here (the sample catalog's figures are in test_sample_sources.py)."""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Dict, Tuple

import pytest

from bot.answering.source import FAQ_ANSWER, PROCEDURE_CONFIDENT, Knowledge, choose
from bot.catalog import load_catalog
from bot.catalog.model import Catalog, Counter, FaqEntry
from bot.settings import PROJECT_ROOT


def entry(entry_id: str, section: str, question: str, *variants: str, en: str = "") -> FaqEntry:
    questions = {"ja": question, **({"en": en} if en else {})}
    return FaqEntry(id=entry_id, category="test", section=section, question=questions,
                    answer={"ja": f"{question}の答えです（サンプル）。"}, variants={"ja": tuple(variants)},
                    url=f"https://www.city.sample.example/faq/test/{entry_id}.html", updated=dt.date(2026, 4, 1))


ENTRIES: Tuple[FaqEntry, ...] = (
    entry("bulky_waste", "kankyo", "粗大ごみはどうやって出せばいいですか。", "ソファを捨てたい", "大きいごみの出し方",
          en="How do I put out bulky waste?"),
    entry("garbage_holiday", "kankyo", "祝日や年末年始もごみの収集はありますか。", "祝日 ごみ 収集", "正月のごみの日"),
    entry("tax_slip_lost", "nozei", "市税の納付書をなくしました。",
          "固定資産税の納付書 再発行", "納付書が見当たらない"),
    entry("pension_exemption", "hoken_nenkin", "国民年金の保険料を払えないときは。",
          "年金 免除 申請", "年金の保険料が払えない"),
    entry("dog_registration", "kankyo", "犬を飼い始めたら登録が必要ですか。", "犬の登録", "子犬を飼った 手続き"),
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    sample = load_catalog(PROJECT_ROOT / "intents")
    counters: Dict[str, Counter] = dict(sample.counters)
    base = sample.counters["shimin"]
    counters["kankyo"] = dataclasses.replace(base, id="kankyo", topics={"ja": ("ごみ", "粗大ごみ", "犬の登録"),
                                                                        "en": ("garbage",)})
    counters["nozei"] = dataclasses.replace(base, id="nozei", topics={"ja": ("納付書", "市税の納付")})
    counters["menkyo"] = dataclasses.replace(base, id="menkyo", outside=True, topics={"ja": ("運転免許", "免許")})
    return dataclasses.replace(sample, counters=counters, faq={e.id: e for e in ENTRIES})


@pytest.fixture(scope="module")
def knowledge(catalog: Catalog) -> Knowledge:
    return Knowledge.of(catalog)


def parse(text: str, intent: str, confidence: float) -> dict:
    return {"text": text, "intent": {"name": intent, "confidence": confidence},
            "intent_ranking": [{"name": intent, "confidence": confidence}]}


@pytest.mark.parametrize("text, expected", [
    ("粗大ゴミを出したい", "bulky_waste"),
    ("そだいごみ だしかた", "bulky_waste"),  # kana only
    ("sodaigomi dashikata", "bulky_waste"),  # romaji
    ("bulky waste", "bulky_waste"),
    ("固定資産税の納付書 なくした 再発行", "tax_slip_lost"),
    ("国民年金 保険料 免除申請", "pension_exemption"),
    ("お正月はごみ出せる？", "garbage_holiday"),
])
def test_the_index_finds_the_entry_asked_for(knowledge: Knowledge, text: str, expected: str):
    matches = knowledge.faq.search(text)
    assert matches and matches[0].item.id == expected, [(m.item.id, round(m.score, 2)) for m in matches]


def test_unrelated_words_find_nothing_above_the_answer_score(knowledge: Knowledge):
    for text in ("今日の天気は", "ラーメン屋を教えて", "xyzzy", "", "？？？"):
        assert all(match.score < FAQ_ANSWER for match in knowledge.faq.search(text)), text


def test_the_procedures_phrasings_are_a_second_opinion(knowledge: Knowledge):
    assert knowledge.procedures.search("印鑑証明がほしい")[0].item == "seal_registration"
    assert knowledge.procedures.search("juuminhyou toritai")[0].item == "residence_certificate"


def test_the_directory_routes_by_the_longest_topic_named(knowledge: Knowledge):
    directory = knowledge.directory
    assert directory.route("粗大ごみの手数料").counter.id == "kankyo"
    assert directory.route("そだいごみ").counter.id == "kankyo"  # by the reading
    assert directory.route("Where do I put my garbage?").counter.id == "kankyo"
    assert directory.route("免許の更新はどこで").counter.id == "menkyo"
    assert directory.route("今日の天気") is None


def test_a_confident_procedure_is_answered_as_understood(catalog, knowledge):
    choice = choose(catalog, knowledge, parse("住民票がほしい", "residence_certificate", 0.97))
    assert choice.kind == "nlu"


def test_a_procedure_intent_on_an_faq_question_gives_the_faq(catalog, knowledge):
    # The example: 「固定資産税の納付書 なくした 再発行」 was answered as a lost My Number card.
    choice = choose(catalog, knowledge, parse("固定資産税の納付書 なくした 再発行", "mynumber_lost", 0.81))
    assert choice.kind == "faq" and choice.faq[0].id == "tax_slip_lost"


def test_the_middle_band_asks_instead_of_assuming(catalog, knowledge):
    choice = choose(catalog, knowledge, parse("引っ越してきた", "moving_in", PROCEDURE_CONFIDENT - 0.1))
    assert choice.kind == "confirm" and choice.procedure == "moving_in"


def test_counter_hours_about_garbage_is_not_the_city_halls_hours(catalog, knowledge):
    choice = choose(catalog, knowledge, parse("祝日、お盆、年末年始は、ごみの収集はあるのですか?",
                                                     "counter_hours", 0.91))
    assert choice.kind == "faq" and choice.faq[0].id == "garbage_holiday"
    assert choose(catalog, knowledge, parse("窓口は何時まで", "counter_hours", 0.9)).kind == "nlu"
    # A follow-up about the procedure in the conversation is about that procedure.
    fee = parse("手数料はいくらですか", "ask_fee", 0.9)
    assert choose(catalog, knowledge, fee, in_context="residence_certificate").kind == "nlu"


def test_out_of_scope_goes_faq_then_section_then_honest_unknown(catalog, knowledge):
    assert choose(catalog, knowledge, parse("犬の登録", "out_of_scope", 0.9)).kind == "faq"
    routed = choose(catalog, knowledge, parse("免許 返納したい", "out_of_scope", 0.9))
    assert routed.kind == "route" and routed.route.counter.id == "menkyo"
    assert choose(catalog, knowledge, parse("おいしいラーメン屋", "out_of_scope", 0.9)).kind == "unknown"
    # A plain misunderstanding keeps the dialogue's own fallback (candidates, then a person).
    assert choose(catalog, knowledge, parse("ほげほげ", "nlu_fallback", 0.25)).kind == "nlu"


def test_buttons_and_conversation_intents_are_not_second_guessed(catalog, knowledge):
    assert choose(catalog, knowledge, parse("/mynumber_lost", "mynumber_lost", 1.0)).kind == "nlu"
    assert choose(catalog, knowledge, parse("ありがとう", "thank", 0.99)).kind == "nlu"
    assert choose(catalog, knowledge, parse("人と話したい ごみ", "request_human", 0.9)).kind == "nlu"
