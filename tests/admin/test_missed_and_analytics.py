"""Missed questions from real conversations (grouped, turned into examples, dismissed) and the
analytics numbers against a seeded set of conversations, over the real server and database."""
from __future__ import annotations

import csv
import io
import uuid

from bot.catalog import load_catalog
from bot.settings import PROJECT_ROOT
from tests.conftest import rest_id
from tests.handoff.conftest import login

CATALOG = load_catalog(PROJECT_ROOT / "intents")


def new_sender(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def group_with(groups, needle):
    return next((g for g in groups if any(needle in t["text"] for t in g["texts"])), None)


def test_missed_questions_are_grouped_then_become_examples_or_are_dismissed(admin_server, admin):
    tag = uuid.uuid4().hex[:4]
    alike = [f"ぴよぴよ ふがふが ほげほげ{tag}", f"ぴよぴよ ふがふが ほげ{tag}"]
    other = f"もけもけ ぽこぽこ ぷにぷに{tag}"
    with_phone = f"ぬるぬる 090-1234-5678 ぺたぺた{tag}"
    for text in alike + [other, with_phone]:
        admin_server.say(new_sender("missed"), text)
    admin_server.say(new_sender("missed"), "住民票の写しがほしい")  # understood: not in the inbox

    inbox = admin.get("/missed").json()
    groups = inbox["groups"]
    together = group_with(groups, alike[0])
    assert together is not None and {t["text"] for t in together["texts"]} >= set(alike), groups
    assert together["shared"] and all(len(gram) <= 2 for gram in together["shared"])
    alone = group_with(groups, other)
    assert alone is not None and alone["id"] != together["id"] and alike[0] not in str(alone)
    assert not any("住民票の写しがほしい" == t["text"] for g in groups for t in g["texts"])
    phone_group = group_with(groups, "ぬるぬる")
    assert phone_group is not None and "1234-5678" not in str(phone_group) and "5678" not in str(phone_group)

    # One click: the group becomes examples of an intent (checked and written like an edit).
    conversation_file = admin_server.catalog_dir / "conversation.yml"
    before = conversation_file.read_text(encoding="utf-8")
    made = admin.post("/missed/examples", {"intent": "out_of_scope", "texts": [t["text"] for t in together["texts"]]})
    assert made.status_code == 200, made.text
    after = conversation_file.read_text(encoding="utf-8")
    assert all(text in after for text in alike)
    assert [line for line in before.splitlines() if line.startswith("#")] == \
        [line for line in after.splitlines() if line.startswith("#")]
    assert group_with(admin.get("/missed").json()["groups"], alike[0]) is None

    # A text that is already an example elsewhere is refused, nothing written.
    refused = admin.post("/missed/examples", {"intent": "greet", "texts": [alike[0]]})
    assert refused.status_code == 422
    assert conversation_file.read_text(encoding="utf-8") == after

    assert admin.post("/missed/dismiss", {"texts": [t["text"] for t in alone["texts"]]}).json() == {"dismissed": 1}
    assert group_with(admin.get("/missed").json()["groups"], other) is None
    assert admin.post("/missed/examples", {"intent": "no_such_intent", "texts": ["x"]}).status_code == 404
    assert admin.post("/missed/examples", {"intent": "greet", "texts": []}).status_code == 400


def numbers(admin):
    reply = admin.get("/analytics")
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_analytics_count_exactly_the_seeded_conversations(admin_server, admin, admin_accounts):
    before = numbers(admin)
    clerk = login(admin_server, admin_accounts["admin"])

    answered = new_sender("stats")
    admin_server.say(answered, "住民票の写しがほしい")
    admin_server.say(answered, "手数料はいくら？")

    missed = new_sender("stats")
    admin_server.say(missed, "ぴよぴよ ふがふが ほげほげ")
    admin_server.say(missed, '/residence_certificate')  # a button: not a question, not a fallback

    helped = new_sender("stats")
    admin_server.say(helped, "人と話したい")  # 市民課 is open at the test's time
    assert clerk.post(f"/conversations/{rest_id(helped)}/claim").status_code == 200
    assert clerk.post(f"/conversations/{rest_id(helped)}/close", {"note": "案内済み"}).status_code == 200
    admin_server.say(helped, '/satisfaction{"score":"4"}')

    called = new_sender("stats")
    admin_server.say(called, "児童手当の申請をしたい")
    admin_server.say(called, "人と話したい")  # こども家庭課 is closed: a call-back
    admin_server.say(called, "/callback_request")
    admin_server.say(called, "/callback_consent")
    admin_server.say(called, "080-9876-5432 です")

    faq = new_sender("stats")  # the city's FAQ answers it (verbatim, with its source)
    admin_server.say(faq, CATALOG.faq["garbage_bulky"].question["ja"])

    after = numbers(admin)
    counted = ("conversations", "handoffs", "callbacks", "messages", "fallbacks")
    delta = {key: after[key] - before[key] for key in counted}
    # Questions typed: answered 2, missed 1, helped 1 ("人と話したい"), called 3 (the phone number too), faq 1.
    assert delta == {"conversations": 5, "handoffs": 2, "callbacks": 1, "messages": 8, "fallbacks": 1}, delta
    # What answered each typed question: 住民票 and its fee (procedure), ぴよぴよ (fallback), 人と話したい twice
    # (handoff), 児童手当 (procedure), the phone number (the call-back's own reply), the FAQ question (faq).
    sources = {kind: after["answer_sources"].get(kind, 0) - before["answer_sources"].get(kind, 0)
               for kind in ("procedure", "faq", "handoff", "fallback")}
    assert sources == {"procedure": 3, "faq": 1, "handoff": 2, "fallback": 1}, after["answer_sources"]
    assert "rest" in after["channels"]

    def rest_total(n):
        return sum(day.get("rest", 0) for day in n["per_day"])

    assert rest_total(after) - rest_total(before) == 5
    top = lambda n: {p["procedure"]: p["conversations"] for p in n["top_procedures"]}  # noqa: E731
    assert top(after).get("residence_certificate", 0) - top(before).get("residence_certificate", 0) == 2
    assert top(after).get("child_allowance", 0) - top(before).get("child_allowance", 0) == 1
    assert after["satisfaction"]["count"] - before["satisfaction"]["count"] == 1
    assert after["satisfaction"]["distribution"]["4"] - before["satisfaction"]["distribution"]["4"] == 1
    assert after["waiting"]["count"] - before["waiting"]["count"] == 1
    assert after["waiting"]["buckets"]["1分未満"] - before["waiting"]["buckets"]["1分未満"] == 1
    assert after["containment"] == round((after["conversations"] - after["handoffs"]) / after["conversations"], 4)
    # Only counts: no resident text anywhere in the answer.
    assert "ぴよぴよ" not in str(after) and "9876" not in str(after)

    # Each plot is an SVG with its numbers as a table; the CSV has the same numbers.
    charts = {c["id"]: c for c in after["charts"]}
    assert set(charts) == {"per-day", "rates", "top", "sources", "waiting", "satisfaction"}
    assert all(c["svg"].startswith("<svg") and 'role="img"' in c["svg"] and c["rows"] for c in charts.values())
    exported = admin.get("/analytics.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = {(r["metric"], r["key"]): r["value"] for r in csv.DictReader(io.StringIO(exported.text))}
    assert int(rows[("conversations", "")]) == after["conversations"]
    assert int(rows[("callbacks", "")]) == after["callbacks"]
    assert int(rows[("procedure_conversations", "residence_certificate")]) == top(after)["residence_certificate"]
    assert int(rows[("answer_source", "faq")]) == after["answer_sources"]["faq"]

    # A range before any conversation counts nothing; a bad range is refused.
    empty = admin.get("/analytics", params={"from": "2020-01-01", "to": "2020-01-31"}).json()
    assert empty["conversations"] == 0 and empty["containment"] is None and len(empty["per_day"]) == 31
    assert admin.get("/analytics", params={"from": "2020-02-01", "to": "2020-01-01"}).status_code == 400
    assert admin.get("/analytics", params={"from": "yesterday"}).status_code == 400
