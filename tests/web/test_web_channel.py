"""The `web` channel over real HTTP: the page, the counter info, messages, history, the live stream.

Bad input gets a clear error and never reaches Rasa; what a resident writes is stored and
returned as text, never as markup.
"""
from __future__ import annotations

import asyncio
import json
import queue
import secrets
import threading
from types import SimpleNamespace
from typing import Any, Dict, List

import httpx
import pytest
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.delivery import Delivery
from bot.redaction import my_number_check_digit
from channels.web import PageStream, WebInput, auto_ruby, transcript


def new_sender() -> str:
    return "web-" + secrets.token_hex(16)


def post_message(server, body: Any, raw: bool = False) -> httpx.Response:
    content = body if raw else json.dumps(body, ensure_ascii=False).encode()
    return httpx.post(f"{server.base_url}/webhooks/web/message", content=content,
                      headers={"content-type": "application/json"}, timeout=60)


def history(server, sender: str, after: float = 0) -> Dict[str, Any]:
    reply = httpx.get(f"{server.base_url}/webhooks/web/history", params={"sender": sender, "after": after}, timeout=30)
    reply.raise_for_status()
    return reply.json()


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
def test_message_returns_the_stored_turn_and_history_restores_it(server):
    sender = new_sender()
    reply = post_message(server, {"sender": sender, "message": "住民票がほしい", "message_id": "ab" * 8})
    assert reply.status_code == 200
    turn = reply.json()
    user, *bots = turn["messages"]
    assert user["role"] == "user" and user["text"] == "住民票がほしい" and user["client_id"] == "ab" * 8
    assert bots and all(m["role"] == "bot" and m["lang"] == "ja" and m["variant"] == "ja" for m in bots)
    assert "住民票" in bots[0]["text"] and bots[0]["buttons"]
    assert bots[0]["ruby"].startswith("【{住民|じゅうみん}")  # readings for the page's furigana toggle
    assert turn["cursor"] == bots[-1]["ts"]

    restored = history(server, sender)
    assert [m["id"] for m in restored["messages"]] == [m["id"] for m in turn["messages"]]
    assert history(server, sender, after=turn["cursor"])["messages"] == []


def test_a_button_press_is_shown_by_its_title(server):
    sender = new_sender()
    first = post_message(server, {"sender": sender, "message": "住民票がほしい"}).json()
    reply = post_message(server, {"sender": sender, "message": '/change_language{"language":"easy"}',
                                  "title": "やさしい にほんご", "after": first["cursor"]}).json()
    assert reply["messages"][0]["title"] == "やさしい にほんご"
    easy = [m for m in reply["messages"] if m["role"] == "bot"]
    assert easy and all(m["variant"] == "easy" and "ruby" in m for m in easy)
    assert any("{" in m["ruby"] for m in easy)   # furigana markup for the page's <ruby>
    # A payload sent without a title takes the title of the button that offered it.
    fee = next(b for m in easy for b in m.get("buttons", []) if "ask_fee" in b["payload"])
    post_message(server, {"sender": sender, "message": fee["payload"]})
    users = [m for m in history(server, sender)["messages"] if m["role"] == "user"]
    assert [u.get("title") for u in users] == [None, "やさしい にほんご", fee["title"]]


def test_text_from_a_resident_is_stored_and_returned_as_text(server):
    sender = new_sender()
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>{漢字|かんじ}'
    reply = post_message(server, {"sender": sender, "message": attack})
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("application/json")
    assert reply.json()["messages"][0]["text"] == attack
    assert history(server, sender)["messages"][0]["text"] == attack


def test_my_number_never_reaches_the_transcript(server):
    sender = new_sender()
    number = "12345678901" + str(my_number_check_digit("12345678901"))
    reply = post_message(server, {"sender": sender, "message": f"マイナンバーは{number}です"}).json()
    assert number not in json.dumps(reply, ensure_ascii=False)
    assert "[個人番号]" in reply["messages"][0]["text"]
    title = post_message(server, {"sender": sender, "message": "/request_human", "title": f"番号 {number}",
                                  "after": reply["cursor"]}).json()
    assert number not in json.dumps(history(server, sender), ensure_ascii=False)
    assert title["messages"][0]["title"] == "番号 [個人番号]"


# --- bad input -------------------------------------------------------------------------------------
def test_an_oversized_message_gets_a_clear_limit_message(server):
    sender = new_sender()
    reply = post_message(server, {"sender": sender, "message": "あ" * 5000})
    assert reply.status_code == 413
    body = reply.json()
    assert body["error"] == "message_too_long" and "2000" in body["message"] and "5000" in body["message"]
    assert history(server, sender)["messages"] == []


@pytest.mark.parametrize("body, code", [
    (b'{"sender": "web-', "malformed_json"),
    (bytes(range(256)), "malformed_json"),
    (b'["sender", "message"]', "malformed_json"),
    (b'{"sender": 5, "message": "hi"}', "invalid_sender"),
    (b'{"sender": "tg:12345", "message": "hi"}', "invalid_sender"),         # another channel's id
    (b'{"sender": "web-00000000000000000000000000000000", "message": 7}', "invalid_message"),
    (b'{"sender": "web-00000000000000000000000000000000", "message": "  "}', "empty_message"),
    (b'{"sender": "web-00000000000000000000000000000000", "message": "a\\u0000b"}', "invalid_message"),
    (b'{"sender": "web-00000000000000000000000000000000", "message": "hi", "after": "soon"}', "invalid_cursor"),
    (b'{"sender": "web-00000000000000000000000000000000", "message": "hi", "message_id": "<x>"}', "invalid_id"),
    (b'{"sender": "web-00000000000000000000000000000000", "message": "/greet", "title": ["x"]}', "invalid_title"),
])
def test_malformed_requests_get_a_clear_error(server, body, code):
    reply = post_message(server, body, raw=True)
    assert reply.status_code in (400, 413)
    assert reply.json()["error"] == code and reply.json()["message"]


def test_history_and_stream_reject_ids_that_are_not_web_conversations(server):
    for path in ("history", "events"):
        for sender in ("", "tg:12345", "web-xyz", "../../etc"):
            reply = httpx.get(f"{server.base_url}/webhooks/web/{path}", params={"sender": sender}, timeout=10)
            assert reply.status_code == 400 and reply.json()["error"] == "invalid_sender"
    bad_cursor = httpx.get(f"{server.base_url}/webhooks/web/history", params={"sender": new_sender(), "after": "nan"},
                           timeout=10)
    assert bad_cursor.json()["error"] == "invalid_cursor"


def test_the_conversation_survives_bad_requests(server):
    sender = new_sender()
    post_message(server, {"sender": sender, "message": "住民票がほしい"})
    post_message(server, {"sender": sender, "message": "x" * 9000})
    post_message(server, b"{not json", raw=True)
    reply = post_message(server, {"sender": sender, "message": "手数料は？"}).json()
    assert "300" in "\n".join(m["text"] for m in reply["messages"])


# --- the live stream ---------------------------------------------------------------------------------
class Stream:
    """Reads an SSE stream in a thread; `events()` returns the `messages` events received so far."""

    def __init__(self, url: str, params: Dict[str, str], headers: Dict[str, str] = None) -> None:
        self.received: "queue.Queue[Dict[str, Any]]" = queue.Queue()
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url, params, headers or {}), daemon=True)
        self._thread.start()
        assert self.ready.wait(10), "stream did not open"

    def _run(self, url, params, headers) -> None:
        with httpx.stream("GET", url, params=params, headers=headers, timeout=httpx.Timeout(5, read=60)) as reply:
            assert reply.headers["content-type"].startswith("text/event-stream")
            event, data = None, []
            for line in reply.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line == "":
                    if event == "ready":
                        self.ready.set()
                    elif event == "messages":
                        self.received.put(json.loads("\n".join(data)))
                    event, data = None, []

    def next(self, timeout: float = 30) -> Dict[str, Any]:
        return self.received.get(timeout=timeout)

    def close(self) -> None:
        self._stop.set()


def test_other_open_pages_receive_the_turn_live(server):
    sender = new_sender()
    url = f"{server.base_url}/webhooks/web/events"
    watcher = Stream(url, {"sender": sender, "page": "aa" * 8})
    try:
        turn = post_message(server, {"sender": sender, "message": "こんにちは", "page": "bb" * 8}).json()
        event = watcher.next()
        assert [m["id"] for m in event["messages"]] == [m["id"] for m in turn["messages"]]
        assert event["cursor"] == turn["cursor"]
    finally:
        watcher.close()


def test_a_reconnecting_page_gets_what_it_missed(server):
    sender = new_sender()
    first = post_message(server, {"sender": sender, "message": "こんにちは"}).json()
    second = post_message(server, {"sender": sender, "message": "住民票がほしい", "after": first["cursor"]}).json()
    # The browser resends the last id it saw as Last-Event-ID; it wins over the URL's cursor.
    stream = Stream(f"{server.base_url}/webhooks/web/events", {"sender": sender, "after": "0"},
                    headers={"Last-Event-ID": repr(first["cursor"])})
    try:
        caught_up = stream.next()
        assert [m["id"] for m in caught_up["messages"]] == [m["id"] for m in second["messages"]]
    finally:
        stream.close()


# --- push (staff replies) and transcript shaping, in process ------------------------------------------
def fake_app(events: List[Any]) -> SimpleNamespace:
    async def retrieve_full_tracker(sender_id: str):
        return DialogueStateTracker.from_events(sender_id, events)

    store = SimpleNamespace(retrieve_full_tracker=retrieve_full_tracker)
    return SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(tracker_store=store)))


def test_push_delivers_a_stored_staff_reply_to_every_open_page():
    sender = new_sender()
    events = [UserUttered("人と話したい", timestamp=10.0),
              BotUttered("担当者におつなぎします。", {}, {"lang": "ja", "variant": "ja"}, timestamp=11.0),
              BotUttered("市民課の山田です。ご用件をどうぞ。", {}, {"lang": "ja", "staff": {"name": "山田"}}, timestamp=20.0)]
    channel = WebInput()
    channel._app = fake_app(events)
    pages = [PageStream(sender, "aa" * 8, 11.0), PageStream(sender, "bb" * 8, 0.0)]
    for page in pages:
        channel._open(page)
    assert Delivery([channel]).supports("web")

    delivered = asyncio.run(channel.push(sender, {"text": "市民課の山田です。ご用件をどうぞ。", "staff": {"name": "山田"}}))
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
              BotUttered("どれですか", {"buttons": [{"title": "手数料", "payload": "/ask_fee"}]}, {"lang": "ja"}, timestamp=2.0),
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
