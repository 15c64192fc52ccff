"""The `web` channel over real HTTP: the page, the counter info, messages, history, the live stream.

Bad input gets a clear error and never reaches Rasa; what a resident writes is stored and
returned as text, never as markup. Whose conversation it is comes from the server's cookie
(or the embedded page's in-memory token), never from a `sender` the client sends.
"""
from __future__ import annotations

import asyncio
import json
import secrets
import time
from types import SimpleNamespace
from typing import Any, List

import httpx
import pytest
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.delivery import Delivery
from bot.redaction import my_number_check_digit
from channels.web import MAX_PAGES_PER_CONVERSATION, PageStream, WebInput, auto_ruby, conversation_id_for, transcript
from tests.web.resident import Stream, WebResident


def new_sender() -> str:
    return conversation_id_for(secrets.token_hex(16))


@pytest.fixture
def resident(server):
    browser = WebResident(server.base_url)
    yield browser
    browser.close()


# --- the page and its assets -----------------------------------------------------------------
def test_page_is_served_at_root_and_under_the_channel(server):
    for path in ("/", "/webhooks/web/"):
        page = httpx.get(server.base_url + path, timeout=10)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert 'role="log"' in page.text and 'lang="ja"' in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
    head = httpx.head(server.base_url + "/", timeout=10)
    assert head.status_code == 200


def test_static_assets_and_widget_need_no_build_step(server):
    for name, kind in (("chat.css", "text/css"), ("chat.js", "javascript"), ("i18n.js", "javascript")):
        asset = httpx.get(f"{server.base_url}/webhooks/web/static/{name}", timeout=10)
        assert asset.status_code == 200 and kind in asset.headers["content-type"], name
    widget = httpx.get(f"{server.base_url}/webhooks/web/widget.js", timeout=10)
    assert widget.status_code == 200 and "iframe" in widget.text
    assert widget.headers["content-type"].startswith(("application/javascript", "text/javascript"))


def test_counter_info_comes_from_the_catalog_in_three_languages(server):
    info = httpx.get(f"{server.base_url}/webhooks/web/info", timeout=10).json()
    assert info["phone"] == "0120-000-111"
    assert info["max_chars"] == 2000
    assert set(info["texts"]) == {"ja", "en", "easy"}
    assert info["texts"]["ja"]["counter"] == "市民課"
    assert "1-1-1" in info["texts"]["en"]["address"]
    assert "{市民課|しみんか}" in info["texts"]["easy"]["counter"]
    assert info["texts"]["ja"]["hours"] and info["texts"]["ja"]["status"]
    assert info["texts"]["en"]["human"] == "Talk to a person"


# --- messages and history ----------------------------------------------------------------------
def test_message_returns_the_stored_turn_and_history_restores_it(resident):
    reply = resident.message({"message": "住民票がほしい", "message_id": "ab" * 8})
    assert reply.status_code == 200
    turn = reply.json()
    user, *bots = turn["messages"]
    assert user["role"] == "user" and user["text"] == "住民票がほしい" and user["client_id"] == "ab" * 8
    assert bots and all(m["role"] == "bot" and m["lang"] == "ja" and m["variant"] == "ja" for m in bots)
    assert "住民票" in bots[0]["text"] and bots[0]["buttons"]
    assert bots[0]["ruby"].startswith("{住民|じゅうみん}")  # readings for the page's furigana toggle
    assert turn["cursor"] == bots[-1]["ts"]

    restored = resident.history()
    assert [m["id"] for m in restored["messages"]] == [m["id"] for m in turn["messages"]]
    assert resident.history(after=turn["cursor"])["messages"] == []


def test_a_button_press_is_shown_by_its_title(resident):
    first = resident.say("住民票がほしい")
    reply = resident.say('/change_language{"language":"easy"}', title="やさしい にほんご", after=first["cursor"])
    assert reply["messages"][0]["title"] == "やさしい にほんご"
    easy = [m for m in reply["messages"] if m["role"] == "bot"]
    assert easy and all(m["variant"] == "easy" and "ruby" in m for m in easy)
    assert any("{" in m["ruby"] for m in easy)   # furigana markup for the page's <ruby>
    # A payload sent without a title takes the title of the button that offered it.
    fee = next(b for m in easy for b in m.get("buttons", []) if "ask_fee" in b["payload"])
    resident.say(fee["payload"])
    users = [m for m in resident.history()["messages"] if m["role"] == "user"]
    assert [u.get("title") for u in users] == [None, "やさしい にほんご", fee["title"]]


def test_text_from_a_resident_is_stored_and_returned_as_text(resident):
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>{漢字|かんじ}'
    reply = resident.message({"message": attack})
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("application/json")
    assert reply.json()["messages"][0]["text"] == attack
    assert resident.history()["messages"][0]["text"] == attack


def test_my_number_never_reaches_the_transcript(resident):
    number = "12345678901" + str(my_number_check_digit("12345678901"))
    reply = resident.say(f"マイナンバーは{number}です")
    assert number not in json.dumps(reply, ensure_ascii=False)
    assert "[個人番号]" in reply["messages"][0]["text"]
    title = resident.say("/request_human", title=f"番号 {number}", after=reply["cursor"])
    assert number not in json.dumps(resident.history(), ensure_ascii=False)
    assert title["messages"][0]["title"] == "番号 [個人番号]"


# --- bad input -------------------------------------------------------------------------------------
def test_a_lone_surrogate_is_shown_as_a_replacement_character(resident):
    # JSON may escape half a character ("\\ud800"): UTF-8, MeCab and the database refuse it.
    reply = resident.message(raw=b'{"message": "\\ud800\\u4f4f\\u6c11\\u7968", "title": "\\udfff"}')
    assert reply.status_code == 200, reply.text
    assert reply.json()["messages"][0]["text"] == "\ufffd住民票"
    assert resident.history()["messages"][0]["text"] == "\ufffd住民票"


def test_an_oversized_message_gets_a_clear_limit_message(resident):
    reply = resident.message({"message": "あ" * 5000})
    assert reply.status_code == 413
    body = reply.json()
    assert body["error"] == "message_too_long" and "2000" in body["message"] and "5000" in body["message"]
    assert resident.history()["messages"] == []


@pytest.mark.parametrize("body, code", [
    (b'{"sender": "web-', "malformed_json"),
    (bytes(range(256)), "malformed_json"),
    (b'["sender", "message"]', "malformed_json"),
    (b'{"sender": "web-00000000000000000000000000000000", "message": 7}', "invalid_message"),
    (b'{"sender": "web-00000000000000000000000000000000", "message": "  "}', "empty_message"),
    (b'{"sender": "web-00000000000000000000000000000000", "message": "a\\u0000b"}', "invalid_message"),
    (b'{"sender": "web-00000000000000000000000000000000", "message": "hi", "after": "soon"}', "invalid_cursor"),
    (b'{"sender": "web-00000000000000000000000000000000", "message": "hi", "message_id": "<x>"}', "invalid_id"),
    (b'{"sender": "web-00000000000000000000000000000000", "message": "/greet", "title": ["x"]}', "invalid_title"),
])
def test_malformed_requests_get_a_clear_error(resident, body, code):
    reply = resident.message(raw=body)
    assert reply.status_code in (400, 413)
    assert reply.json()["error"] == code and reply.json()["message"]


def test_bad_conversation_headers_tickets_and_cursors_get_a_clear_error(server, resident):
    for path in ("history", "events"):
        for token in ("web-xyz", "../../etc", "A" * 32, "0" * 31):
            reply = httpx.get(f"{server.base_url}/webhooks/web/{path}", headers={"X-Madoguchi-Conversation": token},
                              timeout=10)
            assert reply.status_code == 400 and reply.json()["error"] == "invalid_conversation"
    for ticket in ("nope", "0" * 32):
        reply = httpx.get(f"{server.base_url}/webhooks/web/events", params={"ticket": ticket}, timeout=10)
        assert reply.status_code == 403 and reply.json()["error"] == "invalid_ticket"
    bad_cursor = resident.client.get("/webhooks/web/history", params={"after": "nan"})
    assert bad_cursor.json()["error"] == "invalid_cursor"


# --- whose conversation: the server decides -----------------------------------------------------
def test_the_server_issues_an_httponly_strict_cookie_and_a_web_namespaced_conversation(server):
    first = httpx.get(f"{server.base_url}/webhooks/web/history", timeout=10)
    cookie = first.headers["set-cookie"]
    name, value = cookie.split(";", 1)[0].split("=", 1)
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert name == "madoguchi_web" and len(value) == 32
    assert {"httponly", "samesite", "path", "max-age"} <= attributes and "SameSite=Strict" in cookie
    assert "secure" not in attributes          # plain HTTP here; behind MADOGUCHI_PUBLIC_URL=https it is Secure
    assert first.json()["messages"] == []
    # The conversation is `web:` + a hash of the cookie: the id staff see is not the cookie.
    browser = httpx.Client(base_url=server.base_url, cookies={"madoguchi_web": value}, timeout=60)
    turn = browser.post("/webhooks/web/message", json={"message": "住民票がほしい"})
    assert turn.status_code == 200 and "set-cookie" not in turn.headers   # it has one already
    conversation_id = conversation_id_for(value)
    assert conversation_id.startswith("web:") and value not in conversation_id
    events = server.tracker(conversation_id)["events"]
    assert [e["text"] for e in events if e["event"] == "user"] == ["住民票がほしい"]
    assert all(e["event"] != "user" for e in server.tracker("web-" + value)["events"])


def test_a_sender_sent_by_the_client_is_ignored(server, resident):
    """Knowing (or guessing) a conversation id is not enough to read or write it."""
    resident.say("住民票がほしい")
    victim = resident.conversation_id
    stranger = httpx.Client(base_url=server.base_url, timeout=60)
    stranger.post("/webhooks/web/message", json={"sender": victim, "message": "横から書き込み"}).raise_for_status()
    peek = stranger.get("/webhooks/web/history", params={"sender": victim}).json()
    assert all(m["text"] != "住民票がほしい" for m in peek["messages"])
    assert [m["text"] for m in peek["messages"] if m["role"] == "user"] == ["横から書き込み"]  # its own, new one
    assert [m["text"] for m in resident.history()["messages"] if m["role"] == "user"] == ["住民票がほしい"]
    reply = httpx.get(f"{server.base_url}/webhooks/web/events", params={"sender": victim, "check": "1"}, timeout=10)
    assert reply.status_code == 204 and "set-cookie" in reply.headers     # a new conversation, not the victim's


def test_new_conversation_gets_a_new_cookie_and_keeps_the_old_one_on_the_server(server, resident):
    resident.say("こんにちは")
    old = resident.conversation_id
    reply = resident.post("/conversation")
    assert reply.status_code == 200 and "HttpOnly" in reply.headers["set-cookie"]
    assert resident.conversation_id != old and resident.history()["messages"] == []
    assert any(e["event"] == "user" for e in server.tracker(old)["events"])


def test_the_embedded_page_has_a_token_in_memory_and_one_time_stream_tickets(server):
    page = WebResident(server.base_url, embedded=True)
    try:
        assert "madoguchi_web" not in page.client.cookies        # no cookie: it would not survive a cross-site iframe
        turn = page.say("こんにちは")
        assert turn["messages"][0]["text"] == "こんにちは"
        assert page.conversation_id.startswith("web:")
        assert [m["text"] for m in page.history()["messages"] if m["role"] == "user"] == ["こんにちは"]
        ticket = page.post("/stream-ticket").json()["ticket"]
        stream = Stream(f"{server.base_url}/webhooks/web/events", {"ticket": ticket, "after": "0"})
        try:
            assert stream.next()["messages"][0]["text"] == "こんにちは"
        finally:
            stream.close()
        again = httpx.get(f"{server.base_url}/webhooks/web/events", params={"ticket": ticket}, timeout=10)
        assert again.status_code == 403 and again.json()["error"] == "invalid_ticket"   # used once
        # Another page load (no token) sees nothing of it.
        assert WebResident(server.base_url).history()["messages"] == []
    finally:
        page.close()


def test_the_conversation_survives_bad_requests(resident):
    resident.say("住民票がほしい")
    resident.message({"message": "x" * 9000})
    resident.message(raw=b"{not json")
    reply = resident.say("手数料は？")
    assert "300" in "\n".join(m["text"] for m in reply["messages"])


# --- the live stream ---------------------------------------------------------------------------------
def test_other_open_pages_receive_the_turn_live(resident):
    watcher = resident.stream({"page": "aa" * 8})
    try:
        turn = resident.say("こんにちは", page="bb" * 8)
        event = watcher.next()
        assert [m["id"] for m in event["messages"]] == [m["id"] for m in turn["messages"]]
        assert event["cursor"] == turn["cursor"]
    finally:
        watcher.close()


def test_a_reconnecting_page_gets_what_it_missed(resident):
    first = resident.say("こんにちは")
    second = resident.say("住民票がほしい", after=first["cursor"])
    # The browser resends the last id it saw as Last-Event-ID; it wins over the URL's cursor.
    stream = resident.stream({"after": "0"}, headers={"Last-Event-ID": repr(first["cursor"])})
    try:
        caught_up = stream.next()
        assert [m["id"] for m in caught_up["messages"]] == [m["id"] for m in second["messages"]]
    finally:
        stream.close()


def test_too_many_tabs_refuse_the_newest_and_never_close_an_open_one(server, resident):
    """Finding 7: the 9th tab of one conversation gets 429 with a clear message; the tab the
    resident reads stays open (before, the oldest tab's stream was closed)."""
    first = resident.stream({"page": "a0" * 8})
    others = [resident.stream({"page": f"{n:02x}" * 8}) for n in range(1, MAX_PAGES_PER_CONVERSATION)]
    try:
        refused = resident.client.get("/webhooks/web/events", params={"page": "ff" * 8}, timeout=10)
        assert refused.status_code == 429 and refused.headers["retry-after"]
        assert refused.json()["error"] == "too_many_pages" and "タブ" in refused.json()["message"]
        assert resident.client.get("/webhooks/web/events", params={"check": "1"}).status_code == 429
        time.sleep(0.5)
        assert not first.ended.is_set()                          # the resident's own tab is still open
        resident.say("こんにちは")
        assert first.next()["messages"][0]["text"] == "こんにちは"
        # Another resident is not affected.
        assert WebResident(server.base_url).client.get("/webhooks/web/events", params={"check": "1"}).status_code == 204
    finally:
        for stream in [first] + others:
            stream.close()
    time.sleep(0.5)
    assert resident.client.get("/webhooks/web/events", params={"check": "1"}).status_code == 204


# --- push (staff replies) and transcript shaping, in process ------------------------------------------
def fake_services(events: List[Any]) -> SimpleNamespace:
    async def retrieve_full_tracker(sender_id: str):
        return DialogueStateTracker.from_events(sender_id, events)

    store = SimpleNamespace(retrieve_full_tracker=retrieve_full_tracker)
    agent = SimpleNamespace(tracker_store=store)
    return SimpleNamespace(agent=SimpleNamespace(current=lambda: agent))


def test_push_delivers_a_stored_staff_reply_to_every_open_page():
    sender = new_sender()
    events = [UserUttered("人と話したい", timestamp=10.0),
              BotUttered("担当者におつなぎします。", {}, {"lang": "ja", "variant": "ja"}, timestamp=11.0),
              BotUttered("市民課の山田です。ご用件をどうぞ。", {}, {"lang": "ja", "staff": {"name": "山田"}},
                         timestamp=20.0)]
    channel = WebInput()
    channel._services = fake_services(events)
    pages = [PageStream(sender, "aa" * 8, 11.0), PageStream(sender, "bb" * 8, 0.0)]
    for page in pages:
        channel._open(page)
    assert Delivery([channel]).supports("web")

    staff_reply = {"text": "市民課の山田です。ご用件をどうぞ。", "staff": {"name": "山田"}}
    delivered = asyncio.run(channel.push(sender, staff_reply))
    assert delivered is True
    up_to_date = json.loads(pages[0].queue.get_nowait().split("data: ", 1)[1])
    assert [m["role"] for m in up_to_date["messages"]] == ["staff"]
    assert up_to_date["messages"][0]["staff"] == {"name": "山田"} and up_to_date["transient"] == []
    behind = json.loads(pages[1].queue.get_nowait().split("data: ", 1)[1])
    assert [m["role"] for m in behind["messages"]] == ["user", "bot", "staff"]   # it catches up too

    # A message that is not in the tracker (a queue update) goes out as it is.
    asyncio.run(channel.push(sender, {"text": "順番はあと2人です。", "lang": "ja"}))
    update = json.loads(pages[0].queue.get_nowait().split("data: ", 1)[1])
    assert update["messages"] == [] and update["transient"][0]["text"] == "順番はあと2人です。"

    assert asyncio.run(channel.push(new_sender(), {"text": "だれもいない"})) is False


def test_transcript_shows_titles_and_hides_server_triggered_intents():
    events = [UserUttered("EXTERNAL: counter_hours", timestamp=1.0),
              BotUttered("どれですか", {"buttons": [{"title": "手数料", "payload": "/ask_fee"}]}, {"lang": "ja"},
                         timestamp=2.0),
              UserUttered("/ask_fee", timestamp=3.0),
              UserUttered("/request_human", timestamp=4.0, metadata={"title": "人と話す"})]
    entries = transcript(events)
    assert [e["role"] for e in entries] == ["bot", "user", "user"]
    assert entries[1]["title"] == "手数料" and entries[2]["title"] == "人と話す"
    assert transcript(events, after=3.0) == [entries[2]]


def test_dictionary_furigana_keeps_the_text_and_reads_kanji():
    ruby = auto_ruby("受け取りは市民課の窓口です。")
    assert ruby == "{受|う}け{取|と}りは{市民|しみん}{課|か}の{窓口|まどぐち}です。"
    assert auto_ruby("マイナンバーカード") is None
