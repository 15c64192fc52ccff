"""The FAQ files and the section directory load, and every problem names file, line and field."""
import datetime as dt
import shutil
from pathlib import Path

import pytest

from bot.catalog import load_catalog
from bot.catalog.faq import ANSWER_MAX_CHARS, QUESTION_MAX_CHARS, VARIANT_MAX_CHARS
from bot.settings import PROJECT_ROOT
from tests.catalog.editing import edit, line_of, problems

SOURCE = PROJECT_ROOT / "intents"

FAQ = """\
# ごみ・リサイクル (test FAQ)
category: {ja: ごみ・リサイクル, en: Garbage and recycling, easy: "ごみ・リサイクル"}
entries:
  - id: garbage_burnable_day   # a comment
    section: shimin
    question:
      ja: 燃やすごみの収集日はいつですか。
      en: When is burnable garbage collected?
      easy: "{燃|も}やす ごみは いつ {出|だ}しますか。"
    answer:
      ja: 燃やすごみは週2回、地区ごとに決まった曜日の朝8時30分までに出してください。（サンプル）
    variants:
      ja: [可燃ごみ 何曜日, 生ごみはいつ出せばいい]
      en: [burnable garbage day]
    url: https://www.city.sample.example/faq/kankyo/garbage_burnable_day.html
    updated: 2026-04-01
  - id: garbage_large
    section: shimin
    question: {ja: 粗大ごみの出し方を教えてください。}
    answer: {ja: 粗大ごみは申し込み制です。（サンプル）}
    url: http://www.city.sample.example/faq/kankyo/garbage_large.html
    updated: 2025-12-01
    procedure: moving_out
"""


@pytest.fixture
def catalog_dir(tmp_path) -> Path:
    target = tmp_path / "intents"
    shutil.copytree(SOURCE, target, ignore=shutil.ignore_patterns("faq"))
    (target / "faq").mkdir()
    (target / "faq" / "garbage.yml").write_text(FAQ, encoding="utf-8")
    return target


def only(catalog_dir: Path):
    found = problems(catalog_dir)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


def test_faq_entries_and_categories_load(catalog_dir):
    catalog = load_catalog(catalog_dir)
    assert set(catalog.faq) == {"garbage_burnable_day", "garbage_large"}
    entry = catalog.faq["garbage_burnable_day"]
    assert entry.category == "garbage" and entry.section == "shimin"
    assert entry.question["en"] == "When is burnable garbage collected?"
    assert entry.variants == {"ja": ("可燃ごみ 何曜日", "生ごみはいつ出せばいい"), "en": ("burnable garbage day",)}
    assert entry.updated == dt.date(2026, 4, 1) and entry.procedure is None
    assert entry.text("answer", "en") == entry.answer["ja"]  # falls back to the city's Japanese
    assert catalog.faq["garbage_large"].procedure == "moving_out"
    assert catalog.faq["garbage_large"].variants == {}
    assert catalog.faq_categories["garbage"].title.en == "Garbage and recycling"


def test_a_catalog_without_faq_has_an_empty_faq(catalog_dir):
    shutil.rmtree(catalog_dir / "faq")
    catalog = load_catalog(catalog_dir)
    assert catalog.faq == {} and catalog.faq_categories == {}


@pytest.mark.parametrize("old, new, field, message, at", [
    ("section: shimin\n    question:\n      ja: 燃やす", "section: kankyo_nowhere\n    question:\n      ja: 燃やす",
     "entries[0](garbage_burnable_day).section", "unknown section 'kankyo_nowhere': must be a counter id",
     "kankyo_nowhere"),
    ("procedure: moving_out", "procedure: garbage_tickets",
     "entries[1](garbage_large).procedure", "unknown procedure id 'garbage_tickets'", "garbage_tickets"),
    ("url: http://www", "url: ftp://www", "entries[1](garbage_large).url", "must be an http(s) address", "ftp://"),
    ("url: http://www.city.sample.example/faq/kankyo/garbage_large.html", "url: www.city.sample.example",
     "entries[1](garbage_large).url", "must be an http(s) address", "url: www"),
    ("updated: 2025-12-01", "updated: 2025-13-01", "entries[1](garbage_large).updated", "must be a date YYYY-MM-DD",
     "2025-13-01"),
    ("updated: 2025-12-01", "updated: 令和7年", "entries[1](garbage_large).updated", "must be a date YYYY-MM-DD",
     "令和7年"),
    ("updated: 2025-12-01", "updated: 2999-01-01", "entries[1](garbage_large).updated", "is in the future",
     "2999-01-01"),
    ("question: {ja: 粗大ごみの出し方を教えてください。}", "question: {en: How do I put out large items?}",
     "entries[1](garbage_large).question.ja", "the Japanese text is required", "How do I put out"),
    ("answer: {ja: 粗大ごみは申し込み制です。（サンプル）}", "answer: {ja: ''}",
     "entries[1](garbage_large).answer.ja", "must be a non-empty string", "answer: {ja: ''}"),
    ('easy: "{燃|も}やす ごみは', 'easy: "燃やす ごみは', "entries[0](garbage_burnable_day).question.easy",
     "kanji without furigana: 燃", 'easy: "燃やす'),
    ("en: [burnable garbage day]", "en: burnable garbage day",
     "entries[0](garbage_burnable_day).variants.en", "must be a list of strings", "en: burnable garbage day"),
    ("en: [burnable garbage day]", "en: [burnable garbage day, 3]",
     "entries[0](garbage_burnable_day).variants.en[1]", "must be a non-empty string", "garbage day, 3"),
    ("en: [burnable garbage day]", "zh: [可燃垃圾]", "entries[0](garbage_burnable_day).variants.zh",
     "unknown language", "zh:"),
    ("    url: http://www", "    colour: blue\n    url: http://www", "entries[1](garbage_large).colour",
     "unknown field", "colour:"),
    ("  - id: garbage_large", "  - id: Garbage-Large", "entries[1].id", "use lowercase letters", "Garbage-Large"),
])
def test_each_faq_problem_names_file_line_and_field(catalog_dir, old, new, field, message, at):
    path = catalog_dir / "faq" / "garbage.yml"
    edit(path, old, new)
    problem = only(catalog_dir)
    assert problem.file == "intents/faq/garbage.yml"
    assert problem.field == field and message in problem.message, str(problem)
    assert problem.line == line_of(path, at), str(problem)


def test_a_missing_required_field_is_named(catalog_dir):
    path = catalog_dir / "faq" / "garbage.yml"
    edit(path, "    url: http://www.city.sample.example/faq/kankyo/garbage_large.html\n", "")
    problem = only(catalog_dir)
    assert problem.field == "entries[1](garbage_large).url" and problem.message == "missing field"


@pytest.mark.parametrize("key, limit", [("question", QUESTION_MAX_CHARS), ("answer", ANSWER_MAX_CHARS)])
def test_size_caps(catalog_dir, key, limit):
    path = catalog_dir / "faq" / "garbage.yml"
    old = {"question": "question: {ja: 粗大ごみの出し方を教えてください。}",
           "answer": "answer: {ja: 粗大ごみは申し込み制です。（サンプル）}"}[key]
    edit(path, old, f"{key}: {{ja: {'あ' * (limit + 1)}}}")
    problem = only(catalog_dir)
    assert problem.field == f"entries[1](garbage_large).{key}.ja"
    assert f"too long: {limit + 1} characters (at most {limit})" in problem.message
    edit(path, "あ" * (limit + 1), "あ" * limit)
    load_catalog(catalog_dir)


def test_variant_size_cap(catalog_dir):
    path = catalog_dir / "faq" / "garbage.yml"
    edit(path, "en: [burnable garbage day]", f"en: [{'a' * (VARIANT_MAX_CHARS + 1)}]")
    problem = only(catalog_dir)
    assert problem.field == "entries[0](garbage_burnable_day).variants.en[0]" and "too long" in problem.message


def test_duplicate_id_across_files(catalog_dir):
    second = catalog_dir / "faq" / "tax.yml"
    second.write_text(FAQ.replace("ごみ・リサイクル", "ぜいきん").replace("garbage_burnable_day", "tax_day")
                      .replace("燃やす", "市税の").replace("可燃ごみ", "税金").replace("生ごみ", "税")
                      .replace("burnable garbage", "tax"), encoding="utf-8")
    problem = only(catalog_dir)
    assert problem.file == "intents/faq/tax.yml" and problem.field == "entries[1](garbage_large).id"
    assert "duplicate FAQ id 'garbage_large'" in problem.message and "intents/faq/garbage.yml:" in problem.message


def test_a_variant_that_is_an_intent_example_is_refused(catalog_dir):
    catalog = load_catalog(catalog_dir)
    example = catalog.procedures["mynumber_lost"].examples["ja"][0]
    path = catalog_dir / "faq" / "garbage.yml"
    edit(path, "ja: [可燃ごみ 何曜日,", f"ja: [{example},")
    problem = only(catalog_dir)
    assert problem.field == "entries[0](garbage_burnable_day).variants.ja[0]"
    assert "training example of intent mynumber_lost" in problem.message
    assert problem.line == line_of(path, example)


def test_an_out_of_scope_example_may_be_a_variant(catalog_dir):
    catalog = load_catalog(catalog_dir)
    example = catalog.conversation["out_of_scope"].examples["ja"][0]
    edit(catalog_dir / "faq" / "garbage.yml", "ja: [可燃ごみ 何曜日,", f"ja: [{example},")
    load_catalog(catalog_dir)


def test_two_entries_asked_the_same_way_are_refused(catalog_dir):
    path = catalog_dir / "faq" / "garbage.yml"
    edit(path, "question: {ja: 粗大ごみの出し方を教えてください。}", "question: {ja: 可燃ごみ　何曜日}")
    problem = only(catalog_dir)
    assert problem.field == "entries[1](garbage_large).question.ja"
    assert "also asked in FAQ entry garbage_burnable_day" in problem.message


def test_a_duplicate_variant_in_one_entry(catalog_dir):
    edit(catalog_dir / "faq" / "garbage.yml", "生ごみはいつ出せばいい]", "生ごみはいつ出せばいい, 可燃ごみ 何曜日]")
    problem = only(catalog_dir)
    assert problem.field == "entries[0](garbage_burnable_day).variants.ja[2]" and "duplicate variant" in problem.message


def test_category_title_and_file_name(catalog_dir):
    edit(catalog_dir / "faq" / "garbage.yml", FAQ.splitlines(keepends=True)[1], "")
    problem = only(catalog_dir)
    assert problem.field == "category" and problem.message == "missing"


def test_a_broken_faq_file_is_reported_not_raised(catalog_dir):
    (catalog_dir / "faq" / "broken.yml").write_text("entries: [\n", encoding="utf-8")
    problem = only(catalog_dir)
    assert problem.file == "intents/faq/broken.yml" and "not valid YAML" in problem.message


# --- the section directory ----------------------------------------------------------------

OUTSIDE = """\
  pension_office:
    name: {ja: 年金事務所, en: Pension Office, easy: "{年金事務所|ねんきんじむしょ}"}
    place: {ja: 年金事務所 1階, en: "Pension Office, 1st floor", easy: "1{階|かい}"}
    phone: 0120-000-999
    hours:
      - {weekdays: [0, 1, 2, 3, 4], open: "08:30", close: "17:15"}
    outside: true
    address: {ja: サンプル市北町1, en: "1 Kitamachi, Sample City", easy: "サンプル{市|し} {北町|きたまち} 1"}
    topics:
      ja: [年金の請求, 国民年金]
      en: [pension claim]
"""


def add_counter(catalog_dir: Path, text: str) -> Path:
    path = catalog_dir / "city.yml"
    content = path.read_text(encoding="utf-8")
    assert "\ncounters:\n" in content
    path.write_text(content.replace("\ncounters:\n", "\ncounters:\n" + text, 1), encoding="utf-8")
    return path


def test_an_outside_office_with_topics(catalog_dir):
    add_counter(catalog_dir, OUTSIDE)
    counter = load_catalog(catalog_dir).counters["pension_office"]
    assert counter.outside is True and counter.address is not None and counter.address.en == "1 Kitamachi, Sample City"
    assert counter.topics == {"ja": ("年金の請求", "国民年金"), "en": ("pension claim",)}


@pytest.mark.parametrize("old, new, field, message", [
    (OUTSIDE.splitlines(keepends=True)[7], "",
     "counters.pension_office.address", "an outside office needs its address"),
    ("outside: true", "outside: yes please", "counters.pension_office.outside", "must be true or false"),
    ("en: [pension claim]", "en: pension claim", "counters.pension_office.topics.en", "must be a list"),
    ("en: [pension claim]", "fr: [pension]", "counters.pension_office.topics.fr", "unknown language"),
    ("    outside: true\n", "    outside: true\n    floor: 3\n", "counters.pension_office.floor", "unknown field"),
    ('easy: "サンプル{市|し} {北町|きたまち} 1"', 'easy: "サンプル市 1"', "counters.pension_office.address.easy",
     "kanji without furigana"),
])
def test_section_directory_problems(catalog_dir, old, new, field, message):
    path = add_counter(catalog_dir, OUTSIDE.replace(old, new))
    problem = only(catalog_dir)
    assert problem.file == "intents/city.yml" and problem.field == field and message in problem.message, str(problem)
    assert problem.line > 1 and problem.line <= line_of(path, "pension claim") + 2


def test_a_question_trained_as_out_of_scope_may_not_be_an_intent_example(catalog_dir):
    # Questions of entries not tied to a procedure are trained as out_of_scope (bot/catalog/compile.py).
    example = load_catalog(catalog_dir).procedures["moving_in"].examples["ja"][0]
    path = catalog_dir / "faq" / "garbage.yml"
    edit(path, "question: {ja: 粗大ごみの出し方を教えてください。}", f"question: {{ja: {example}}}")
    edit(path, "procedure: moving_out", "procedure: null")
    problem = only(catalog_dir)
    assert problem.field == "entries[1](garbage_large).question.ja"
    assert "question" in problem.message and "training example of intent moving_in" in problem.message
    edit(path, "procedure: null", "procedure: moving_in")  # about that procedure: not trained
    load_catalog(catalog_dir)
