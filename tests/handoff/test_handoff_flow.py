"""Handoff over real HTTP with a real database: resident (REST channel) ↔ clerk (staff API)."""
import concurrent.futures
import sqlite3
import uuid

import httpx

from bot.catalog import load_catalog
from bot.settings import PROJECT_ROOT
from tests.conftest import buttons, texts

CATALOG = load_catalog(PROJECT_ROOT / "intents")


def new_sender() -> str:
    return f"rest:resident-{uuid.uuid4().hex[:10]}"  # the id the REST channel uses (kept as is)


def queue_entry(clerk, sender):
    return next((e for e in clerk.get("/queue").json()["queue"] if e["conversation_id"] == sender), None)


def test_ask_for_a_person_claim_reply_hand_back(server, clerk):
    sender = new_sender()
    server.say(sender, "住民票の写しがほしい")
    joined = server.say(sender, "人と話したい")
    assert "順番待ち" in texts(joined) and "1番目" in texts(joined) or "番目" in texts(joined)
    assert any(b["payload"] == "/cancel_handoff" for b in buttons(joined))

    entry = queue_entry(clerk, sender)
    assert entry["state"] == "queued" and entry["channel"] == "rest" and entry["language"] == "ja"
    assert entry["summary"]["procedure"] == "residence_certificate"
    assert "住民票の写しがほしい" in entry["summary"]["last_messages"]

    # While queued, Rasa is paused: the message is recorded and shown to staff, the bot stays quiet.
    waiting = server.say(sender, "まだですか")
    assert "番目" in texts(waiting)           # the resident is told their place again
    assert clerk.post(f"/conversations/{sender}/claim").status_code == 200
    transcript = clerk.get(f"/conversations/{sender}").json()["transcript"]
    assert any(line["from"] == "resident" and line["text"] == "まだですか" for line in transcript)
    # The clerk sees what answered the resident: the procedure the first answer came from.
    assert next(line for line in transcript if line["from"] == "bot")["source"] == {
        "source": "procedure", "id": "residence_certificate"}

    reply = {"text": "市民課の山田です。ご用件を伺います。"}
    assert clerk.post(f"/conversations/{sender}/messages", reply).status_code == 200
    events = server.tracker(sender)["events"]
    staff_lines = [e for e in events if e["event"] == "bot" and (e.get("metadata") or {}).get("staff")]
    assert staff_lines and staff_lines[-1]["text"] == "市民課の山田です。ご用件を伺います。"

    back = clerk.post(f"/conversations/{sender}/handback")
    assert back.status_code == 200 and back.json()["state"] == "bot"
    # resume + action_listen: the next question is answered normally, not paused again.
    answer = server.say(sender, "手数料はいくら？")
    assert CATALOG.procedures["residence_certificate"].fee.text.ja in texts(answer)
    assert server.tracker(sender)["paused"] is False


def test_two_clerks_claim_at_once_exactly_one_wins(server, clerk, second_clerk):
    sender = new_sender()
    server.say(sender, "人と話したいです")
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda c: c.post(f"/conversations/{sender}/claim").status_code, [clerk, second_clerk]))
    assert sorted(results) == [200, 409]


def test_resident_can_stop_waiting(server, clerk):
    sender = new_sender()
    server.say(sender, "職員さんと話せますか")
    assert queue_entry(clerk, sender)["state"] == "queued"
    reply = server.say(sender, "/cancel_handoff")
    assert CATALOG.phrases["handoff_cancelled"].ja in texts(reply)
    assert queue_entry(clerk, sender) is None
    assert CATALOG.procedures["moving_in"].summary.ja in texts(server.say(sender, "転入届を出したい"))


def test_two_fallbacks_in_a_row_queue_the_conversation(server, clerk):
    sender = new_sender()
    # "/nlu_fallback" is what the 「どれでもない」 button sends: a misunderstanding for sure.
    first = server.say(sender, "/nlu_fallback")
    assert CATALOG.phrases["fallback_candidates"].ja in texts(first) and queue_entry(clerk, sender) is None
    second = server.say(sender, "/nlu_fallback")
    assert CATALOG.phrases["fallback_human"].ja in texts(second)
    assert queue_entry(clerk, sender)["reason"] == "fallback"


def test_transfer_moves_the_conversation_to_another_section(server, clerk, second_clerk):
    sender = new_sender()
    server.say(sender, "人と話したい")
    assert clerk.post(f"/conversations/{sender}/claim").status_code == 200
    moved = clerk.post(f"/conversations/{sender}/transfer", {"section": "zeimu"})
    assert moved.status_code == 200 and moved.json()["state"] == "queued" and moved.json()["section"] == "zeimu"
    assert clerk.post(f"/conversations/{sender}/transfer", {"section": "nowhere"}).status_code == 400
    for wrong in ([], {"a": 1}, None, 7):  # not a section name: 400, not a crash
        refused = clerk.post(f"/conversations/{sender}/transfer", {"section": wrong})
        assert refused.status_code == 400 and refused.json()["error"] == "unknown_section"
    assert second_clerk.post(f"/conversations/{sender}/claim").status_code == 200


def test_close_with_a_note_asks_for_satisfaction(server, clerk):
    sender = new_sender()
    server.say(sender, "人と話したい")
    clerk.post(f"/conversations/{sender}/claim")
    assert clerk.post(f"/conversations/{sender}/close", {"note": ""}).status_code == 400
    closed = clerk.post(f"/conversations/{sender}/close", {"note": "住民票の請求方法を案内"})
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    bot_texts = [e.get("text") for e in server.tracker(sender)["events"] if e["event"] == "bot"]
    assert CATALOG.phrases["satisfaction_question"].ja in bot_texts
    thanks = server.say(sender, '/satisfaction{"score":"5"}')
    assert CATALOG.phrases["satisfaction_thanks"].ja in texts(thanks)
    database = sqlite3.connect(server.var_dir / "madoguchi.db")
    assert database.execute("select score from satisfaction where conversation_id = ?", (sender,)).fetchone() == (5,)


def test_after_hours_callback_is_stored_apart_and_deleted_after_the_call(server, clerk):
    sender = new_sender()
    server.say(sender, "児童手当の申請をしたい")
    server.say(sender, "人と話したい")
    consent = server.say(sender, "/callback_request")
    assert CATALOG.phrases["callback_consent"].ja in texts(consent)
    server.say(sender, "/callback_consent")
    bad = server.say(sender, "電話は持ってません")
    assert CATALOG.phrases["callback_invalid_phone"].ja in texts(bad)
    done = server.say(sender, "080-9876-5432 です")
    assert "承りました" in texts(done) and "こども家庭課" in texts(done)

    # The number is not in the conversation record, only in the access-controlled table.
    events = str(server.tracker(sender)["events"])
    assert "[電話番号]" in events
    for form in ("080-9876-5432", "08098765432", "9876-5432"):
        assert form not in events
    database = sqlite3.connect(server.var_dir / "madoguchi.db")
    stored = database.execute("select data from events where sender_id = ?", (sender,)).fetchall()
    assert stored and not any(form in row[0] for row in stored for form in ("080-9876-5432", "9876-5432"))
    entry = queue_entry(clerk, sender)
    assert entry["state"] == "callback_requested" and entry["section"] == "kodomo"
    assert entry["summary"]["procedure"] == "child_allowance" and entry["summary"]["reason"] == "callback"
    assert clerk.get(f"/conversations/{sender}/callback").json() == {"phone": "08098765432"}
    assert clerk.post(f"/conversations/{sender}/callback-done", {"note": "折り返し済み"}).status_code == 200
    assert clerk.get(f"/conversations/{sender}/callback").status_code == 404
    database = sqlite3.connect(server.var_dir / "madoguchi.db")
    assert database.execute("select count(*) from callback_requests where conversation_id = ?",
                            (sender,)).fetchone() == (0,)


def test_visit_slip_round_trip(server, clerk):
    sender = new_sender()
    server.say(sender, "転入届を出したい")
    slip = server.say(sender, "/visit_slip")
    text = texts(slip)
    number = next(word for word in text.replace("。", " ").split() if word.isdigit() and len(word) == 6)
    assert any((m.get("image") or "").startswith("data:image/png;base64,") for m in slip)  # the QR code
    found = clerk.get(f"/slips/{number}").json()
    assert found["procedure"] == "moving_in" and found["conversation_id"] == sender
    assert found["documents"] == list(CATALOG.procedures["moving_in"].documents.ja)
    assert "転入届を出したい" in found["summary"]
    assert clerk.get("/slips/000000x").status_code == 404


def test_staff_pull_takes_over_a_bot_conversation(server, clerk):
    sender = new_sender()
    server.say(sender, "印鑑登録をしたい")
    pulled = clerk.post(f"/conversations/{sender}/pull")
    assert pulled.status_code == 200 and pulled.json()["state"] == "assigned"
    assert server.tracker(sender)["paused"] is True
    assert clerk.post(f"/conversations/{sender}/pull").status_code == 409


def test_redaction_applies_to_what_staff_see(server, clerk):
    sender = new_sender()
    server.say(sender, "人と話したい")
    server.say(sender, "マイナンバーは123456789018です")
    transcript = clerk.get(f"/conversations/{sender}").json()["transcript"]
    assert any("[個人番号]" in (line["text"] or "") for line in transcript)
    assert "123456789018" not in str(transcript)
    entry = queue_entry(clerk, sender)
    assert "123456789018" not in str(entry)


def test_login_roles_and_csrf(server, clerk, admin, accounts):
    anonymous = httpx.Client(base_url=server.base_url, timeout=30)
    assert anonymous.get("/staff/api/queue").status_code == 401
    assert anonymous.post("/staff/api/conversations/x/claim").status_code == 401
    wrong = {"username": accounts["staff1"], "password": "wrong password"}
    assert anonymous.post("/staff/api/login", json=wrong).status_code == 401
    assert clerk.get("/audit").status_code == 403                         # wrong role
    sender = new_sender()
    server.say(sender, "人と話したい")
    assert clerk.post(f"/conversations/{sender}/claim", csrf=False).status_code == 403   # missing CSRF
    assert queue_entry(clerk, sender)["state"] == "queued"                               # nothing happened
    assert admin.get("/audit").status_code == 200


def test_every_read_and_write_is_audited(server, clerk, admin, accounts):
    sender = new_sender()
    server.say(sender, "人と話したい")
    clerk.post(f"/conversations/{sender}/claim")
    clerk.get(f"/conversations/{sender}")
    clerk.post(f"/conversations/{sender}/messages", {"text": "確認します"})
    entries = admin.get("/audit", params={"conversation_id": sender}).json()["entries"]
    actions = {(e["actor"], e["action"]) for e in entries}
    for action in ("conversation.claim", "conversation.read", "conversation.reply"):
        assert (accounts["staff1"], action) in actions


def test_openapi_document_is_served(server):
    spec = httpx.get(f"{server.base_url}/staff/api/openapi.json", timeout=30).json()
    assert spec["openapi"].startswith("3.")
    for path in ("/login", "/queue", "/conversations/{cid}", "/conversations/{cid}/claim",
                 "/conversations/{cid}/messages", "/conversations/{cid}/handback", "/conversations/{cid}/close",
                 "/conversations/{cid}/transfer", "/slips/{number}"):
        assert path in spec["paths"]


def test_staff_console_page_is_served(server):
    page = httpx.get(f"{server.base_url}/staff", timeout=30)
    assert page.status_code == 200 and 'lang="ja"' in page.text and "職員コンソール" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_sensitive_topics_go_straight_to_staff(server, clerk):
    dv = new_sender()
    reply = server.say(dv, "夫から暴力を受けていて、住所を知られないようにしたいです")
    assert CATALOG.phrases["human_only_topic"].ja in texts(reply)
    assert queue_entry(clerk, dv)["reason"] == "sensitive"
    assert server.tracker(dv)["paused"] is True

    complaint = new_sender()
    server.say(complaint, "窓口の職員の態度について苦情を言いたい")
    assert queue_entry(clerk, complaint)["reason"] == "sensitive"


def test_canned_replies_come_from_the_catalog_in_the_residents_language(clerk):
    for language, text_of in (("ja", lambda p: p.ja), ("en", lambda p: p.en)):
        canned = clerk.get("/canned", params={"language": language}).json()["canned"]
        assert {c["id"] for c in canned} == {k for k in CATALOG.phrases if k.startswith("canned_")}
        assert text_of(CATALOG.phrases["canned_checking"]) in [c["text"] for c in canned]
    easy = clerk.get("/canned", params={"language": "easy"}).json()["canned"]
    assert any("待(ま)って" in c["text"] for c in easy)   # readings in parentheses, no markup
