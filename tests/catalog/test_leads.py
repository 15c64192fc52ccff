"""Every procedure has a lead (one sentence, in ja/en/easy) and every answer says it first:
on the screen, in the pre-synthesized speech and in the phone's first part."""
import datetime as dt

import pytest

from bot.catalog import furigana, load_catalog
from bot.catalog.model import PROCEDURE_IDS
from bot.catalog.sentences import first_sentence, sentences
from bot.replies import ASPECTS, REMOTE_WAYS, Question, ReplyBuilder, to_message
from bot.settings import PROJECT_ROOT
from bot.speech.answers import catalog_answers
from bot.speech.reading import for_the_ear
from bot.text import LANGUAGES
from channels.voice import split_parts

CATALOG = load_catalog(PROJECT_ROOT / "intents")
NOW = dt.datetime.fromisoformat("2026-11-14T09:05:00+09:00")
YES = {"ja": ("はい", "いいえ"), "easy": ("はい", "いいえ"), "en": ("Yes", "No")}


def builder(language: str) -> ReplyBuilder:
    return ReplyBuilder(CATALOG, language, NOW)


def shown(text: str, language: str) -> str:
    """What a channel shows (furigana in parentheses in easy mode), as the voice channel reads it."""
    return furigana.parenthesized(text) if language == "easy" else furigana.plain(text)


def test_every_procedure_has_a_lead_of_one_sentence():
    assert set(PROCEDURE_IDS) <= set(CATALOG.procedures)
    for procedure in CATALOG.procedures.values():
        for language in LANGUAGES:
            lead = furigana.plain(procedure.lead.get(language))
            assert len(sentences(lead, language)) == 1, (procedure.id, language, lead)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_procedure_answer_begins_with_the_lead(language):
    for procedure in CATALOG.procedures.values():
        reply = builder(language).procedure_summary(procedure, pin_topic=False)[0]
        lead = procedure.lead.get(language)
        assert reply.lines[0] == lead, procedure.id
        text = to_message(reply, language)["text"]
        assert first_sentence(text, language) == shown(lead, language), procedure.id


def test_the_spoken_answers_begin_with_the_lead():
    """Pre-synthesis speaks catalog_answers; the phone splits the same text into parts."""
    spoken = catalog_answers(CATALOG, now=NOW)
    for procedure in CATALOG.procedures.values():
        for language in ("ja", "easy"):
            lead = procedure.lead.get(language)
            assert any(text.startswith(lead) for lang, text in spoken if lang == language), (procedure.id, language)
            reply = builder(language).procedure_summary(procedure, pin_topic=False)[0]
            text = to_message(reply, language)["text"]
            assert split_parts([text])[0].startswith(shown(lead, language)), (procedure.id, language)
            # Read for the ear from the furigana source: the readings, then the rest of the answer.
            assert for_the_ear(reply.text(), "ja").startswith(for_the_ear(lead, "ja")), (procedure.id, language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_yes_no_question_about_the_procedure_is_answered_yes_then_the_lead(language):
    for procedure in CATALOG.procedures.values():
        reply = builder(language).procedure_summary(procedure, False, Question(yes_no=True))[0]
        if procedure.human_only:  # staff answer these: no guessed はい
            assert reply.lines[0] == procedure.lead.get(language)
            continue
        assert reply.lines[0].startswith(YES[language][0]) and procedure.lead.get(language) in reply.lines[0]
        proxy = builder(language).procedure_summary(procedure, False, Question(yes_no=True, conditional=True))[0]
        assert proxy.lines[0] == procedure.lead.get(language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_aspect_answer_starts_with_the_fact_not_a_heading(language):
    for procedure in CATALOG.procedures.values():
        if procedure.human_only:
            continue
        for aspect in ASPECTS:
            text = builder(language).aspect(procedure, aspect)[0].text()
            first = first_sentence(text, language)
            assert not first.endswith(("：", ":", "】")), (procedure.id, aspect, first)
            if aspect == "fee":
                assert first == first_sentence(procedure.fee.text.get(language), language)
            elif aspect == "deadline":
                assert first == first_sentence(procedure.deadline.get(language), language)
            elif aspect == "documents":
                assert str(len(procedure.documents.get(language))) in first or len(procedure.documents.ja) == 1
            elif aspect == "online":
                assert first.startswith(YES[language]), (procedure.id, first)


@pytest.mark.parametrize("language", LANGUAGES)
def test_yes_or_no_for_each_way_follows_the_catalog(language):
    for procedure in CATALOG.procedures.values():
        for way in REMOTE_WAYS:
            text = builder(language).aspect(procedure, "online", Question(yes_no=True, way=way))[0].text()
            first = first_sentence(text, language)
            if way in procedure.how:
                assert first.startswith(YES[language][0]), (procedure.id, way, first)
                assert first_sentence(procedure.how[way].get(language), language) in first
            else:
                assert first.startswith(YES[language][1]), (procedure.id, way, first)


def test_free_or_not_follows_the_fee():
    b = builder("ja")
    for procedure in CATALOG.procedures.values():
        free = b.aspect(procedure, "fee", Question(yes_no=True, asks_free=True))[0].lines[0]
        costs = b.aspect(procedure, "fee", Question(yes_no=True, asks_free=False))[0].lines[0]
        assert free.startswith("はい" if procedure.fee.yen == 0 else "いいえ"), procedure.id
        assert costs.startswith("いいえ" if procedure.fee.yen == 0 else "はい"), procedure.id


def test_hours_say_open_or_closed_first_and_a_named_day_gets_the_hours_first():
    b = builder("ja")
    shimin, kaigo = CATALOG.procedures["moving_in"], CATALOG.procedures["nursing_care"]
    assert b.hours(shimin, Question(yes_no=True)).lines[0].startswith("はい、市民課の窓口は今開いています")
    assert b.hours(kaigo, Question(yes_no=True)).lines[0].startswith("いいえ、介護保険課の窓口は今閉まっています")
    assert b.hours(kaigo).lines[0].startswith("介護保険課の窓口は今閉まっています")
    assert b.hours(shimin, Question(yes_no=True, names_day=True)).lines[0].startswith("受付時間")
    assert b.location(kaigo).lines[0] == "介護保険課の窓口は本庁舎 2階 7番窓口です。"


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_life_event_checklist_says_how_many_steps_first(language):
    for event_id, event in CATALOG.life_events.items():
        text = builder(language).checklist(event_id)[0].text()
        first = first_sentence(text, language)
        assert f"{len(event.steps)}" in first and not first.endswith(("：", ":")), (event_id, first)
