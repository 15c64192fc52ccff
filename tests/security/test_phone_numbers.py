"""Finding 8 (phone half) over real HTTP: call-back numbers are understood however they are
typed, and a resident's phone numbers are masked in what staff see and what Rasa stores,
while the city's own numbers in the bot's answers stay readable. Also: the staff view cleans
with the inbound rules (finding 3), even events that never passed a channel."""
from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from bot.catalog import load_catalog
from bot.settings import PROJECT_ROOT
from tests.conftest import texts
from tests.handoff.conftest import add_account, login
from tests.security.scan import readable, spelled_out

CATALOG = load_catalog(PROJECT_ROOT / "intents")
CITY_PHONE = CATALOG.counters["shimin"].phone  # 0120-000-111, in the bot's answers


@pytest.fixture(scope="module")
def clerk(server):
    username = f"phone{uuid.uuid4().hex[:6]}"
    add_account(server, username, "admin", "電話テスト")  # admin: sees every section's queue
    return login(server, username)


def tracker_events(server, sender: str) -> str:
    events = httpx.get(f"{server.base_url}/conversations/{sender}/tracker", params={"token": server.token},
                       timeout=30).json()["events"]
    return readable(json.dumps(events).encode())


def queue_entry(clerk, sender):
    return next((e for e in clerk.get("/queue").json()["queue"] if e["conversation_id"] == sender), None)


@pytest.mark.parametrize("typed, digits", [
    ("０９０ー８７６５ー４３２１", "09087654321"),  # not the bot's own example, 090-1234-5678
    ("080 5555 6666 です", "08055556666"),
    ("(03) 1234-5678", "0312345678"),
    ("電話は0312345678でお願いします", "0312345678"),
])
def test_a_call_back_number_is_understood_however_it_is_typed(server, clerk, typed, digits):
    sender = f"rest:callback-{uuid.uuid4().hex[:10]}"
    server.say(sender, "介護保険の申請をしたい")   # 介護保険課 is closed at the test clock's time
    offered = server.say(sender, "人と話したい")
    assert any(b["payload"] == "/callback_request" for m in offered for b in m.get("buttons") or [])
    server.say(sender, "/callback_request")
    server.say(sender, "/callback_consent")
    done = server.say(sender, typed)
    assert CATALOG.counters["kaigo"].name.ja in texts(done) and "承りました" in texts(done)

    entry = queue_entry(clerk, sender)
    assert entry["state"] == "callback_requested" and entry["section"] == "kaigo"
    assert clerk.get(f"/conversations/{sender}/callback").json() == {"phone": digits}
    # The number is only in the access-controlled call-back row: not in Rasa's events, not in the transcript.
    assert not spelled_out(digits).search(tracker_events(server, sender))
    assert "[電話番号]" in tracker_events(server, sender)
    transcript = clerk.get(f"/conversations/{sender}").json()["transcript"]
    assert not spelled_out(digits).search(readable(json.dumps(transcript).encode()))


def test_resident_phone_numbers_are_masked_for_staff_but_the_citys_are_not(server, clerk):
    sender = f"rest:phone-{uuid.uuid4().hex[:10]}"
    answer = server.say(sender, "住民票の写しの窓口はどこ？")
    assert CITY_PHONE in texts(answer)
    server.say(sender, "人と話したい")  # 市民課 is open: queued
    for said in ("携帯は０８０ー１１１１ー２２２２です", "自宅は (045) 333-4444 です"):
        server.say(sender, said)

    transcript = clerk.get(f"/conversations/{sender}").json()["transcript"]
    shown = readable(json.dumps(transcript).encode())
    for digits in ("08011112222", "0453334444"):
        assert not spelled_out(digits).search(shown)
        assert not spelled_out(digits).search(readable(json.dumps(queue_entry(clerk, sender)).encode()))
    resident_lines = [line["text"] for line in transcript if line["from"] == "resident"]
    assert "携帯は[電話番号]です" in resident_lines and "自宅は [電話番号] です" in resident_lines
    assert any(CITY_PHONE in (line["text"] or "") for line in transcript if line["from"] == "bot")


def test_the_staff_view_cleans_with_the_inbound_rules_even_events_stored_otherwise(server, clerk):
    """An event appended through Rasa's API (or stored before a rule change) is cleaned on display."""
    sender = f"rest:stored-{uuid.uuid4().hex[:10]}"
    server.say(sender, "人と話したい")
    raw = "マイナンバーは１２３４ー５６７８ー９０１８、電話は 090 2222 3333"
    appended = httpx.post(f"{server.base_url}/conversations/{sender}/tracker/events", params={"token": server.token},
                          json={"event": "user", "text": raw, "timestamp": time.time(),
                                "parse_data": {"intent": {"name": "nlu_fallback", "confidence": 1.0},
                                               "entities": [], "text": raw}}, timeout=30)
    assert appended.status_code == 200, appended.text

    transcript = clerk.get(f"/conversations/{sender}").json()["transcript"]
    shown = readable(json.dumps(transcript).encode())
    assert not spelled_out("123456789018").search(shown) and not spelled_out("09022223333").search(shown)
    assert any(line["text"] == "マイナンバーは[個人番号]、電話は [電話番号]" for line in transcript)
