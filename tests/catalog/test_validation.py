"""Every validation error names file, line and field."""
import shutil
from pathlib import Path

import pytest

from bot.catalog import load_catalog
from bot.catalog.model import CONVERSATION_INTENTS, PROCEDURE_IDS
from bot.settings import PROJECT_ROOT
from tests.catalog.editing import edit, line_of, problems

SOURCE = PROJECT_ROOT / "intents"


@pytest.fixture
def catalog_dir(tmp_path) -> Path:
    target = tmp_path / "intents"
    shutil.copytree(SOURCE, target)
    return target


def test_the_shipped_catalog_is_valid_and_complete():
    catalog = load_catalog(SOURCE)
    assert set(PROCEDURE_IDS) <= set(catalog.procedures)
    assert set(CONVERSATION_INTENTS) <= set(catalog.conversation)
    assert {"life_event_moving", "life_event_birth", "life_event_bereavement"} <= set(catalog.life_events)
    for procedure in catalog.procedures.values():
        assert len(procedure.examples["ja"]) >= 20, procedure.id
        assert len(procedure.examples["en"]) >= 5, procedure.id
        assert procedure.how and procedure.documents.ja
    assert "PIN" in catalog.procedures["mynumber_pin"].summary.en


def test_unknown_field(catalog_dir):
    path = catalog_dir / "procedures" / "mynumber_lost.yml"
    edit(path, "human_only: false\n", "human_only: false\ncolour: blue\n")
    [problem] = problems(catalog_dir)
    assert problem.file == "intents/procedures/mynumber_lost.yml"
    assert problem.field == "colour" and "unknown field" in problem.message
    assert problem.line == line_of(path, "colour: blue")


def test_missing_field(catalog_dir):
    path = catalog_dir / "procedures" / "mynumber_lost.yml"
    edit(path, "owner: 市民課 マイナンバー係\n", "")
    found = problems(catalog_dir)
    assert [(p.field, p.message) for p in found] == [("owner", "missing field")]
    assert found[0].file.endswith("mynumber_lost.yml")


def test_missing_language_variant(catalog_dir):
    path = catalog_dir / "procedures" / "mynumber_lost.yml"
    edit(path, "  en: Lost or stolen My Number card\n", "")
    [problem] = problems(catalog_dir)
    assert problem.field == "title.en" and problem.message == "missing language variant"
    assert problem.line == line_of(path, "title:") + 1


def test_same_example_under_two_intents(catalog_dir):
    path = catalog_dir / "procedures" / "mynumber_lost.yml"
    edit(path, "    - マイナンバーカードをなくしました\n",
         "    - マイナンバーカードをなくしました\n    - こんにちは\n")
    found = problems(catalog_dir)
    assert any("also under intent greet" in p.message or "also under intent mynumber_lost" in p.message
               for p in found), found
    clash = next(p for p in found if "also under intent" in p.message)
    assert clash.line > 1 and "examples" in clash.field


def test_unknown_related_id(catalog_dir):
    path = catalog_dir / "procedures" / "mynumber_lost.yml"
    edit(path, "related: [mynumber_apply, mynumber_pin]", "related: [mynumber_apply, passport_apply]")
    [problem] = problems(catalog_dir)
    assert problem.field == "related[1]" and "unknown procedure id: passport_apply" in problem.message
    assert problem.line == line_of(path, "related:")


@pytest.mark.parametrize("bad", ["-100", "'1000円'", "12.5", "true"])
def test_bad_fee(catalog_dir, bad):
    path = catalog_dir / "procedures" / "mynumber_lost.yml"
    edit(path, "  yen: 1000", f"  yen: {bad}")
    [problem] = problems(catalog_dir)
    assert problem.field == "fee.yen" and "whole number of yen" in problem.message
    assert problem.line == line_of(path, "  yen:")


@pytest.mark.parametrize("bad", ["2027-02-30", "next year", "31/03/2027"])
def test_bad_review_date(catalog_dir, bad):
    path = catalog_dir / "procedures" / "mynumber_lost.yml"
    edit(path, "review_by: 2027-03-31", f"review_by: {bad}")
    [problem] = problems(catalog_dir)
    assert problem.field == "review_by" and "YYYY-MM-DD" in problem.message
    assert problem.line == line_of(path, "review_by:")


def test_easy_text_needs_furigana_on_every_kanji(catalog_dir):
    path = catalog_dir / "procedures" / "mynumber_lost.yml"
    edit(path, 'easy: "マイナンバーカードを なくしたとき"', 'easy: "マイナンバーカードを 紛失したとき"')
    [problem] = problems(catalog_dir)
    assert problem.field == "title.easy" and "紛失" in problem.message


def test_documents_must_match_across_languages(catalog_dir):
    path = catalog_dir / "procedures" / "mynumber_lost.yml"
    edit(path, "    - Photo ID (for example a driver's licence)\n", "")
    [problem] = problems(catalog_dir)
    assert problem.field == "documents" and "same number of items" in problem.message


def test_too_few_examples(catalog_dir):
    path = catalog_dir / "procedures" / "mynumber_lost.yml"
    text = path.read_text(encoding="utf-8")
    head, examples = text.split("  en:\n    - I lost my My Number card", 1)
    path.write_text(head + "  en:\n    - I lost my My Number card\n", encoding="utf-8")
    [problem] = problems(catalog_dir)
    assert problem.field == "examples.en" and "at least 5" in problem.message


def test_deleted_procedure_and_unknown_section(catalog_dir):
    # A missing sample id is not a loader problem (another city has other procedures); what
    # still pointed at it is.
    (catalog_dir / "procedures" / "nursing_care.yml").unlink()
    edit(catalog_dir / "procedures" / "mynumber_lost.yml", "section: shimin", "section: kokuseki")
    found = {(p.file, p.field): p.message for p in problems(catalog_dir)}
    assert ("intents/procedures/nursing_care.yml", "id") not in found
    assert "unknown counter 'kokuseki'" in found[("intents/procedures/mynumber_lost.yml", "section")]
    # Related ids pointing at the deleted file are reported where they are written.
    assert any(field.startswith("related") for (_, field) in found)


def test_invalid_yaml_names_the_line(catalog_dir):
    path = catalog_dir / "procedures" / "mynumber_lost.yml"
    edit(path, "human_only: false\n", "human_only: false\nsummary: [unclosed\n")
    found = problems(catalog_dir)
    assert found[0].field == "(file)" and "not valid YAML" in found[0].message
    assert found[0].line >= line_of(path, "[unclosed")


def test_id_must_match_file_name(catalog_dir):
    edit(catalog_dir / "procedures" / "mynumber_lost.yml", "id: mynumber_lost", "id: mynumber_gone")
    [problem] = problems(catalog_dir)
    assert problem.field == "id" and "file name" in problem.message


def test_counter_hours_are_checked(catalog_dir):
    edit(catalog_dir / "city.yml", 'open: "08:30", close: "17:15"', 'open: "17:30", close: "08:15"')
    [problem] = problems(catalog_dir)
    assert problem.file == "intents/city.yml" and "open before close" in problem.message


def test_problem_string_is_file_line_field_message(catalog_dir):
    edit(catalog_dir / "procedures" / "mynumber_lost.yml", "human_only: false\n", "human_only: maybe\n")
    [problem] = problems(catalog_dir)
    assert str(problem).startswith("intents/procedures/mynumber_lost.yml:")
    assert ": human_only: must be true or false" in str(problem)


LOST_LEAD_JA = ("  ja: なくしたカードは、すぐにマイナンバー総合フリーダイヤル0120-95-0178（24時間365日）で止め、"
                "警察に届けてから、市民課で再発行（1,000円）を申請します。\n")


def test_a_lead_is_required(catalog_dir):
    path = catalog_dir / "procedures" / "mynumber_lost.yml"
    text = path.read_text(encoding="utf-8")
    start = text.index("lead:\n")
    path.write_text(text[:start] + text[text.index("summary:\n"):], encoding="utf-8")
    [problem] = problems(catalog_dir)
    assert (problem.file, problem.field, problem.message) == ("intents/procedures/mynumber_lost.yml", "lead",
                                                             "missing field")


def test_a_lead_is_one_sentence(catalog_dir):
    path = catalog_dir / "procedures" / "mynumber_lost.yml"
    edit(path, LOST_LEAD_JA, "  ja: カードを止めてください。電話は0120-95-0178です。\n")
    [problem] = problems(catalog_dir)
    assert problem.field == "lead.ja" and problem.message == "must be one sentence, found 2"
    assert problem.line == line_of(path, "電話は0120-95-0178です。")


def test_an_english_lead_is_one_sentence_and_ends_with_a_full_stop(catalog_dir):
    path = catalog_dir / "procedures" / "mynumber_lost.yml"
    edit(path, '  en: "Stop the lost card at once', '  en: "Call us. Stop the lost card at once')
    edit(path, 'at the Citizen Affairs counter."', 'at the Citizen Affairs counter"')
    found = [(p.field, p.message) for p in problems(catalog_dir)]
    assert found == [("lead.en", "must be one sentence, found 2"), ("lead.en", "must end with '.'")]


def test_a_lead_has_a_length_cap(catalog_dir):
    path = catalog_dir / "procedures" / "mynumber_lost.yml"
    edit(path, LOST_LEAD_JA, "  ja: " + "カードを止めて" * 20 + "ください。\n")
    [problem] = problems(catalog_dir)
    assert problem.field == "lead.ja" and problem.message.startswith("too long: 145 characters")


def test_an_easy_lead_needs_furigana(catalog_dir):
    path = catalog_dir / "procedures" / "mynumber_lost.yml"
    edit(path, '{電話|でんわ}して カードを {止|と}めます。"', '電話して カードを {止|と}めます。"')
    [problem] = problems(catalog_dir)
    assert problem.field == "lead.easy" and problem.message == "kanji without furigana: 電話"
