"""Open data: the public export validates against its own schema, and an export round-trips
through `madoguchi catalog import` (differences shown first, merged only with --yes, YAML
comments kept, the merged catalog validated before anything is written)."""
from __future__ import annotations

import copy
import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import httpx
import jsonschema
import pytest

from bot.catalog import load_catalog
from bot.settings import PROJECT_ROOT


def validate(document: Dict[str, Any], schema: Dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(document)


def test_public_export_validates_against_its_schema(server):
    schema = httpx.get(f"{server.base_url}/opendata/schema.json", timeout=60)
    assert schema.status_code == 200 and schema.headers["content-type"].startswith("application/schema+json")
    jsonschema.Draft202012Validator.check_schema(schema.json())
    reply = httpx.get(f"{server.base_url}/opendata/procedures.json", timeout=60)  # no login: public
    assert reply.status_code == 200
    document = reply.json()
    validate(document, schema.json())
    assert document["license"] == {"id": "CC-BY-4.0", "name": "Creative Commons Attribution 4.0 International",
                                   "url": "https://creativecommons.org/licenses/by/4.0/"}
    assert document["publisher"]["attribution"] == "サンプル市 (Sample City)"
    catalog = load_catalog(PROJECT_ROOT / "intents")
    by_id = {p["id"]: p for p in document["procedures"]}
    assert set(by_id) == set(catalog.procedures)
    lost = by_id["mynumber_lost"]
    assert lost["fee"]["yen"] == catalog.procedures["mynumber_lost"].fee.yen
    assert lost["counter"]["name"]["ja"] == "市民課"
    assert lost["examples"]["ja"] == list(catalog.procedures["mynumber_lost"].examples["ja"])


def test_public_csv_has_a_row_per_procedure_and_language(server):
    reply = httpx.get(f"{server.base_url}/opendata/procedures.csv", timeout=60)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
    text = reply.content.decode("utf-8")
    assert text.startswith("\ufeff")  # spreadsheet programs read UTF-8 Japanese only with the BOM
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    catalog = load_catalog(PROJECT_ROOT / "intents")
    assert len(rows) == 3 * len(catalog.procedures)
    row = next(r for r in rows if r["id"] == "residence_certificate" and r["language"] == "en")
    assert row["title"] == catalog.procedures["residence_certificate"].title.en
    assert row["license"] == "CC-BY-4.0" and row["counter"] == "Citizen Affairs Division"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    shutil.copytree(PROJECT_ROOT / "intents", tmp_path / "intents")
    return tmp_path


def madoguchi(home: Path, *arguments: str, **env: str) -> subprocess.CompletedProcess:
    environment = dict(os.environ, MADOGUCHI_CATALOG=str(home / "intents"), MADOGUCHI_VAR=str(home / "var"), **env)
    environment.pop("MADOGUCHI_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "bot.cli", *arguments], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, env=environment, timeout=300)


def export(home: Path, name: str = "export.json", **env: str) -> Dict[str, Any]:
    result = madoguchi(home, "catalog", "export", "--output", str(home / name), **env)
    assert result.returncode == 0, result.stderr
    return json.loads((home / name).read_text(encoding="utf-8"))


def schema() -> Dict[str, Any]:
    return json.loads((PROJECT_ROOT / "bot" / "admin" / "opendata_schema.json").read_text(encoding="utf-8"))


def test_licence_and_attribution_are_settings(home):
    document = export(home, MADOGUCHI_OPENDATA_LICENSE="CC0-1.0", MADOGUCHI_OPENDATA_ATTRIBUTION="サンプル市 市民課")
    validate(document, schema())
    assert document["license"]["id"] == "CC0-1.0"
    assert document["license"]["url"] == "https://creativecommons.org/publicdomain/zero/1.0/"
    assert document["publisher"]["attribution"] == "サンプル市 市民課"


def test_export_round_trips_through_import(home):
    original = export(home)
    validate(original, schema())
    unchanged = madoguchi(home, "catalog", "import", str(home / "export.json"))
    assert unchanged.returncode == 0, unchanged.stderr
    assert "0 procedure(s) to change, 23 unchanged" in unchanged.stdout

    # Another city's version: a new fee, one more example, one new procedure.
    theirs = copy.deepcopy(original)
    certificate = next(p for p in theirs["procedures"] if p["id"] == "residence_certificate")
    certificate["fee"]["yen"] = 350
    certificate["fee"]["ja"] = "窓口は1通350円です。"
    certificate["examples"]["ja"].append("住民票の写しを取りに行きたいんですけど")
    dogs = copy.deepcopy(certificate)
    dogs.update(id="dog_registration", related=["moving_in"],
                title={"ja": "犬の登録", "en": "Dog registration", "easy": "{犬|いぬ}の {登録|とうろく}"},
                examples={"ja": [f"犬の登録について{n}つ目の質問です" for n in range(1, 21)],
                          "en": [f"Dog registration question number {n}" for n in range(1, 6)]})
    theirs["procedures"].append(dogs)
    (home / "theirs.json").write_text(json.dumps(theirs, ensure_ascii=False), encoding="utf-8")
    path = home / "intents" / "procedures" / "residence_certificate.yml"
    before = path.read_text(encoding="utf-8")

    shown = madoguchi(home, "catalog", "import", str(home / "theirs.json"))
    assert shown.returncode == 0, shown.stderr
    assert "+ dog_registration: new procedure 犬の登録" in shown.stdout
    assert "    fee.yen: 300 → 350" in shown.stdout
    assert "    examples.ja: + '住民票の写しを取りに行きたいんですけど'" in shown.stdout
    assert "nothing written" in shown.stdout
    assert path.read_text(encoding="utf-8") == before and not (path.parent / "dog_registration.yml").exists()

    merged = madoguchi(home, "catalog", "import", str(home / "theirs.json"), "--yes")
    assert merged.returncode == 0, merged.stderr
    after = path.read_text(encoding="utf-8")
    assert after.splitlines()[0] == before.splitlines()[0] and after.splitlines()[0].startswith("#")  # comments kept
    comments = [line for line in before.splitlines() if "#" in line]
    assert comments and all(line in after.splitlines() for line in comments)
    assert "yen: 350" in after
    catalog = load_catalog(home / "intents")  # the merged catalog validates
    assert catalog.procedures["residence_certificate"].fee.yen == 350
    assert "住民票の写しを取りに行きたいんですけど" in catalog.procedures["residence_certificate"].examples["ja"]
    assert catalog.procedures["dog_registration"].title.ja == "犬の登録"

    again = export(home, "again.json")
    validate(again, schema())
    exported = {p["id"]: {k: v for k, v in p.items() if k != "counter"} for p in again["procedures"]}
    expected = {p["id"]: {k: v for k, v in p.items() if k != "counter"} for p in theirs["procedures"]}
    assert exported == expected  # what was imported is what is exported
    settled = madoguchi(home, "catalog", "import", str(home / "theirs.json"))
    assert "0 procedure(s) to change, 24 unchanged" in settled.stdout


def test_import_refuses_what_does_not_fit(home):
    document = export(home)
    (home / "broken.json").write_text(json.dumps({**document, "license": {}}), encoding="utf-8")
    refused = madoguchi(home, "catalog", "import", str(home / "broken.json"), "--yes")
    assert refused.returncode == 1 and "not a valid procedures.json export" in refused.stderr
    assert "license: 'id' is a required property" in refused.stderr

    thin = copy.deepcopy(document)  # a procedure for a counter this city does not have
    thin["procedures"].append({**copy.deepcopy(document["procedures"][1]), "id": "new_thing", "section": "nowhere"})
    (home / "thin.json").write_text(json.dumps(thin, ensure_ascii=False), encoding="utf-8")
    before = {p.name: p.read_bytes() for p in (home / "intents" / "procedures").iterdir()}
    refused = madoguchi(home, "catalog", "import", str(home / "thin.json"), "--yes")
    assert refused.returncode == 1 and "would not validate (nothing written)" in refused.stderr
    assert "new_thing.yml:" in refused.stderr and "section: unknown counter 'nowhere'" in refused.stderr
    assert {p.name: p.read_bytes() for p in (home / "intents" / "procedures").iterdir()} == before
