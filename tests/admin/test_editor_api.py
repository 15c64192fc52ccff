"""The procedure editor over the real server: checked before saving, errors at their field,
comments and order kept, every version kept and restorable, stale edits refused, the running
assistant answering with the edit without a restart."""
from __future__ import annotations

import time
import uuid

import httpx

from tests.admin.conftest import console_login
from tests.conftest import texts
from tests.handoff.conftest import login


def form(admin, pid):
    reply = admin.get(f"/procedures/{pid}")
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_staff_account_gets_403_and_no_session_401(admin_server, admin_accounts):
    anonymous = httpx.Client(base_url=admin_server.base_url, timeout=60)
    assert anonymous.get("/admin/api/procedures").status_code == 401
    page = anonymous.get("/admin")
    assert page.status_code == 200 and 'lang="ja"' in page.text  # the page itself offers the login
    clerk = console_login(admin_server, admin_accounts["staff"])
    for method, path in (("GET", "/procedures"), ("GET", "/procedures/moving_in"), ("GET", "/missed"),
                         ("GET", "/analytics"), ("GET", "/analytics.csv"), ("GET", "/freshness"),
                         ("PUT", "/procedures/moving_in"), ("POST", "/missed/dismiss"),
                         ("POST", "/procedures/moving_in/check")):
        reply = clerk.send(method, path, {"data": {}, "version": "x", "texts": ["x"]})
        assert reply.status_code == 403, (method, path, reply.status_code)
        assert reply.json()["error"] == "forbidden"
    # The staff console's own cookie gets no further.
    staff_clerk = login(admin_server, admin_accounts["staff"])
    cookie = staff_clerk.client.cookies.get("madoguchi_staff")
    assert httpx.get(f"{admin_server.base_url}/admin/api/procedures", cookies={"madoguchi_staff": cookie},
                     timeout=60).status_code == 403
    assert clerk.get("/session").json()["user"]["role"] == "staff"


def test_writes_need_the_csrf_token(admin):
    data = form(admin, "moving_in")
    reply = admin.send("PUT", "/procedures/moving_in", {"data": data["data"], "version": data["version"]}, csrf=False)
    assert reply.status_code == 403 and reply.json()["error"] == "csrf"


def test_an_invalid_edit_is_refused_with_errors_at_their_fields_and_nothing_saved(admin_server, admin):
    path = admin_server.procedure_file("moving_in")
    before = path.read_bytes()
    data = form(admin, "moving_in")
    edited = data["data"]
    edited["title"]["easy"] = "転入"  # kanji without furigana
    edited["fee"]["yen"] = "abc"
    edited["review_by"] = "2027-02-30"
    check = admin.post("/procedures/moving_in/check", {"data": edited})
    assert check.status_code == 200
    fields = {p["field"]: p for p in check.json()["problems"]}
    assert {"title.easy", "fee.yen", "review_by"} <= set(fields), fields
    assert "転入" in fields["title.easy"]["message"] and fields["title.easy"]["line"] > 1
    saved = admin.put("/procedures/moving_in", {"data": edited, "version": data["version"]})
    assert saved.status_code == 422
    assert {"title.easy", "fee.yen", "review_by"} <= {p["field"] for p in saved.json()["problems"]}
    assert path.read_bytes() == before
    assert admin.get("/procedures/moving_in/history").json()["versions"] == []


def test_a_valid_edit_is_written_with_comments_kept_versioned_audited_and_answered(admin_server, admin,
                                                                                  admin_accounts):
    path = admin_server.procedure_file("residence_certificate")
    original = path.read_text(encoding="utf-8")
    marker = f"（改定{uuid.uuid4().hex[:4]}）"
    data = form(admin, "residence_certificate")
    assert [f["key"] for f in data["fields"]][:4] == ["id", "section", "owner", "review_by"]
    edited = data["data"]
    edited["summary"]["ja"] = edited["summary"]["ja"] + marker
    check = admin.post("/procedures/residence_certificate/check", {"data": edited}).json()
    assert check["problems"] == [] and f"+  ja: {edited['summary']['ja']}" in check["diff"]
    saved = admin.put("/procedures/residence_certificate", {"data": edited, "version": data["version"]})
    assert saved.status_code == 200, saved.text
    written = path.read_text(encoding="utf-8")
    assert marker in written
    # Only the edited line changed: comments, order and quoting are as they were.
    changed = [(a, b) for a, b in zip(original.splitlines(), written.splitlines(), strict=True) if a != b]
    assert len(changed) == 1 and changed[0][1].endswith(marker), changed
    assert [line for line in original.splitlines() if "#" in line] == [line for line in written.splitlines()
                                                                      if "#" in line and marker not in line]
    versions = admin.get("/procedures/residence_certificate/history").json()["versions"]
    assert [(v["action"], v["author"]) for v in versions] == [("save", admin.username), ("original", "(files)")]
    audit = login(admin_server, admin_accounts["admin"]).get("/audit").json()["entries"]
    assert any(e["action"] == "catalog.save" and e["actor"] == admin.username
               and e["detail"]["procedure"] == "residence_certificate" for e in audit)
    # The running server answers with the edit (the provider reloads within seconds; no retrain).
    deadline = time.monotonic() + 20
    while True:
        answer = texts(admin_server.say(f"editor-{uuid.uuid4().hex[:8]}", "住民票の写しがほしい"))
        if marker in answer or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert marker in answer


def test_an_edit_on_a_stale_version_gets_409_and_loses_nothing(admin_server, admin, second_admin):
    first, second = form(admin, "seal_registration"), form(second_admin, "seal_registration")
    first["data"]["owner"] = "市民課 印鑑係A"
    second["data"]["owner"] = "市民課 印鑑係B"
    early = admin.put("/procedures/seal_registration", {"data": first["data"], "version": first["version"]})
    assert early.status_code == 200
    late = second_admin.put("/procedures/seal_registration", {"data": second["data"], "version": second["version"]})
    assert late.status_code == 409 and late.json()["error"] == "stale"
    text = admin_server.procedure_file("seal_registration").read_text(encoding="utf-8")
    assert "印鑑係A" in text and "印鑑係B" not in text


def test_restore_brings_back_an_earlier_version(admin_server, admin):
    path = admin_server.procedure_file("tax_certificate")
    original = path.read_text(encoding="utf-8")
    data = form(admin, "tax_certificate")
    data["data"]["fee"]["yen"] = 350
    data["data"]["fee"]["ja"] = "1通350円です。"
    saved = admin.put("/procedures/tax_certificate", {"data": data["data"], "version": data["version"]}).json()
    assert "yen: 350" in path.read_text(encoding="utf-8")
    versions = admin.get("/procedures/tax_certificate/history").json()["versions"]
    original_id = next(v["id"] for v in versions if v["action"] == "original")
    shown = admin.get(f"/history/{original_id}").json()
    assert shown["content"] == original and "-  yen: 350" in shown["diff"]
    restored = admin.post(f"/history/{original_id}/restore", {"version": saved["version"]})
    assert restored.status_code == 200, restored.text
    assert path.read_text(encoding="utf-8") == original
    assert [v["action"] for v in admin.get("/procedures/tax_certificate/history").json()["versions"]][:2] == \
        ["restore", "save"]
    # Restoring against a version that is no longer on disk is refused.
    assert admin.post(f"/history/{original_id}/restore", {"version": saved["version"]}).status_code == 409


def test_examples_are_added_moved_and_deleted(admin_server, admin):
    source, target = admin_server.procedure_file("moving_within"), admin_server.procedure_file("moving_out")
    data = form(admin, "moving_within")
    examples = data["data"]["examples"]["ja"]
    moved, deleted = examples[-1], examples[-2]
    added = f"市内で引っ越す予定です{uuid.uuid4().hex[:4]}"
    examples.remove(deleted)
    examples.remove(moved)
    examples.append(added)
    reply = admin.put("/procedures/moving_within", {"data": data["data"], "version": data["version"],
                                                    "moves": [{"text": moved, "to": "moving_out"}]})
    assert reply.status_code == 200, reply.text
    source_text, target_text = source.read_text(encoding="utf-8"), target.read_text(encoding="utf-8")
    assert added in source_text and moved not in source_text and deleted not in source_text
    assert moved in target_text
    assert [v["action"] for v in admin.get("/procedures/moving_out/history").json()["versions"]] == ["save", "original"]


def test_an_example_already_under_another_intent_is_refused(admin_server, admin):
    data = form(admin, "mynaportal")
    taken = form(admin, "moving_in")["data"]["examples"]["ja"][0]
    data["data"]["examples"]["ja"].append(taken)
    reply = admin.put("/procedures/mynaportal", {"data": data["data"], "version": data["version"]})
    assert reply.status_code == 422
    assert any("moving_in" in p["message"] or "mynaportal" in p["message"] for p in reply.json()["problems"])
    assert taken not in admin_server.procedure_file("mynaportal").read_text(encoding="utf-8")


def test_preview_shows_the_unsaved_answer_in_three_modes_and_as_speech(admin_server, admin):
    data = form(admin, "mynumber_pin")
    edited = data["data"]
    edited["summary"]["ja"] = "暗証番号の再設定は市民課でできます。"
    edited["summary"]["en"] = "You can reset your PIN at the Citizen Affairs Division."
    edited["summary"]["easy"] = "{暗証番号|あんしょうばんごう}は {市民課|しみんか}で なおせます。"
    preview = admin.post("/procedures/mynumber_pin/preview", {"data": edited}).json()
    assert preview["problems"] == []
    answers = preview["answers"]
    assert "暗証番号の再設定は市民課でできます。" in answers["ja"][0]["text"] and answers["ja"][0]["lang"] == "ja"
    assert "reset your PIN" in answers["en"][0]["text"] and answers["en"][0]["lang"] == "en"
    easy = answers["easy"][0]
    assert "あんしょうばんごう" in easy["text"] and "{暗証番号|あんしょうばんごう}" in easy["ruby"]
    on_disk = admin_server.procedure_file("mynumber_pin").read_text(encoding="utf-8")
    assert "暗証番号の再設定は市民課でできます" not in on_disk
    spoken = admin.post("/procedures/mynumber_pin/speech", {"data": edited, "language": "ja"})
    assert spoken.status_code == 200, spoken.text
    audio = httpx.get(admin_server.base_url + spoken.json()["url"], timeout=60)
    assert audio.status_code == 200 and audio.headers["content-type"] in ("audio/mpeg", "audio/wav")
    assert len(audio.content) > 1000
    broken = dict(edited, title=dict(edited["title"], easy="暗証番号"))
    assert [p["field"] for p in admin.post("/procedures/mynumber_pin/preview", {"data": broken}).json()["problems"]] \
        == ["title.easy"]


def test_freshness_lists_overdue_procedures_by_owner(admin_server, admin):
    assert admin.get("/freshness").json()["owners"] == []  # every entry is due in 2027
    data = form(admin, "nursing_care")
    data["data"]["review_by"] = "2026-11-01"
    assert admin.put("/procedures/nursing_care", {"data": data["data"], "version": data["version"]}).status_code == 200
    deadline = time.monotonic() + 20
    while True:
        owners = admin.get("/freshness").json()["owners"]
        if owners or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert owners == [{"owner": "介護保険課 認定係", "procedures": [
        {"id": "nursing_care", "title": owners[0]["procedures"][0]["title"], "review_by": "2026-11-01",
         "days_overdue": 13, "section": "kaigo"}]}]
    assert "review_by: 2026-11-01" in admin_server.procedure_file("nursing_care").read_text(encoding="utf-8")


def test_two_admins_saving_at_once_cannot_both_win(admin_server, admin, second_admin):
    from concurrent.futures import ThreadPoolExecutor

    first, second = form(admin, "birth_registration"), form(second_admin, "birth_registration")
    assert first["version"] == second["version"]
    first["data"]["owner"] = "市民課 戸籍係（同時A）"
    second["data"]["owner"] = "市民課 戸籍係（同時B）"
    with ThreadPoolExecutor(max_workers=2) as pool:
        replies = list(pool.map(lambda pair: pair[0].put("/procedures/birth_registration",
                                                         {"data": pair[1]["data"], "version": pair[1]["version"]}),
                                ((admin, first), (second_admin, second))))
    assert sorted(r.status_code for r in replies) == [200, 409]
    winner = "A" if replies[0].status_code == 200 else "B"
    text = admin_server.procedure_file("birth_registration").read_text(encoding="utf-8")
    assert f"同時{winner}" in text and f"同時{'B' if winner == 'A' else 'A'}" not in text
    assert [v["action"] for v in admin.get("/procedures/birth_registration/history").json()["versions"]] == \
        ["save", "original"]


def test_malformed_requests_get_clear_errors_and_change_nothing(admin_server, admin):
    path = admin_server.procedure_file("death_procedures")
    before = path.read_bytes()
    data = form(admin, "death_procedures")
    assert admin.get("/procedures/no_such_procedure").status_code == 404
    assert admin.get("/procedures/Bad-Id/history").status_code == 404
    not_a_form = admin.put("/procedures/death_procedures", {"data": "not a form", "version": data["version"]})
    assert not_a_form.status_code == 400
    assert admin.put("/procedures/death_procedures", {"data": data["data"]}).status_code == 400  # no version
    # Wrong shapes inside the form (a string where a list belongs) are refused at their fields.
    mangled = dict(data["data"], examples={"ja": "一つの文字列", "en": None}, documents={"ja": 5},
                   related="moving_in", title=["x"])
    reply = admin.put("/procedures/death_procedures", {"data": mangled, "version": data["version"]})
    assert reply.status_code == 422, reply.text
    assert {p["field"] for p in reply.json()["problems"]} == {"examples.ja", "examples.en", "documents.ja",
                                                              "related", "title"}
    assert path.read_bytes() == before  # nothing written
    moved_nowhere = admin.put("/procedures/death_procedures", {"data": data["data"], "version": data["version"],
                                                               "moves": [{"text": "x", "to": "no_such_intent"}]})
    assert moved_nowhere.status_code == 404 and path.read_bytes() == before
    assert admin.get("/history/999999").status_code == 404
    assert admin.get(f"/history/{2 ** 64}").status_code == 404  # beyond a database integer (was a 500)
    assert admin.post(f"/history/{2 ** 64}/restore", {"version": data["version"]}).status_code == 404


def test_values_of_the_wrong_type_get_422_at_their_field_and_nothing_is_written(admin_server, admin):
    """"false" is not false, a list is not a text, a text is not a list: each refused, none coerced or dropped."""
    path = admin_server.procedure_file("family_register")
    before = path.read_bytes()
    # Other tests (the browser one) may have saved this procedure already: nothing new may be added.
    history_before = admin.get("/procedures/family_register/history").json()["versions"]
    data = form(admin, "family_register")
    for field, value, named in (
            ("human_only", "false", "human_only"),
            ("title", dict(data["data"]["title"], ja=["印鑑", "登録"]), "title.ja"),
            ("related", "moving_in", "related"),
            ("documents", dict(data["data"]["documents"], ja="戸籍謄本"), "documents.ja"),
            ("examples", dict(data["data"]["examples"], en=["Family register", 7]), "examples.en[1]"),
            ("fee", dict(data["data"]["fee"], yen=True), "fee.yen")):
        edited = dict(data["data"], **{field: value})
        saved = admin.put("/procedures/family_register", {"data": edited, "version": data["version"]})
        assert saved.status_code == 422, (field, saved.text)
        assert saved.json()["error"] == "invalid"
        assert [p["field"] for p in saved.json()["problems"]] == [named], saved.json()
        assert path.read_bytes() == before, field
        checked = admin.post("/procedures/family_register/check", {"data": edited}).json()
        assert [p["field"] for p in checked["problems"]] == [named]
    assert admin.get("/procedures/family_register/history").json()["versions"] == history_before
    # The types the console sends still save (the fee's amount comes from a text input).
    edited = dict(data["data"], human_only=False, fee=dict(data["data"]["fee"], yen=str(data["data"]["fee"]["yen"])))
    assert admin.put("/procedures/family_register", {"data": edited, "version": data["version"]}).status_code == 200


def test_a_text_over_its_field_cap_gets_422_naming_the_field(admin_server, admin):
    path = admin_server.procedure_file("marriage_registration")
    before = path.read_bytes()
    data = form(admin, "marriage_registration")
    # 20,000 characters (ASCII, so the body stays under the server's 64 KB cap as JSON).
    edited = dict(data["data"], summary=dict(data["data"]["summary"], ja="長い説明。" + "x" * 19995))
    saved = admin.put("/procedures/marriage_registration", {"data": edited, "version": data["version"]})
    assert saved.status_code == 422, saved.text
    problems = saved.json()["problems"]
    assert [p["field"] for p in problems] == ["summary.ja"] and "too long" in problems[0]["message"]
    assert path.read_bytes() == before
    too_many = dict(data["data"], documents={language: [f"書類{n}" if language != "easy" else f"しょるい{n}"
                                                         for n in range(40)] for language in ("ja", "en", "easy")})
    saved = admin.put("/procedures/marriage_registration", {"data": too_many, "version": data["version"]})
    assert saved.status_code == 422 and "documents.ja" in {p["field"] for p in saved.json()["problems"]}
    assert path.read_bytes() == before
