"""The LINE channel end to end: real madoguchi server ↔ a local fake Messaging API.

Webhook bodies are LINE's documented JSON (destination, events[] with replyToken,
webhookEventId, deliveryContext, …), signed as LINE signs them and posted to
/webhooks/line/webhook; what the bot says is read back from the fake API's record of
reply and push calls.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import os
import random
import secrets
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import httpx
import pytest
from linebot import SignatureValidator

from bot.catalog import load_catalog
from bot.redaction import my_number_check_digit
from bot.settings import PROJECT_ROOT
from channels.base import notice_text
from channels.line import SIGNATURE_HEADER, LineInput, postback_payloads
from tests.channels.fake_line import Call, FakeLineApi
from tests.conftest import API_TOKEN, FAKE_NOW
from tests.devserver import RunningServer, running_server

SECRET = "5f3c0e8d9a7b41d2a6c4e1f0b9d8c7a6"  # LINE channel secrets are 32 hex digits
ACCESS_TOKEN = "madoguchi-test-line-access-token/abc+def="
DESTINATION = "U" + "0" * 31 + "1"  # the bot's own user id
PASSWORD = "correct horse battery"
CATALOG = load_catalog(PROJECT_ROOT / "intents")


def notice(name: str) -> str:
    """What the channel says itself (the catalog's `notice_<name>`, in Japanese and English)."""
    return notice_text(CATALOG, name)
ULID_DIGITS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ids = itertools.count(random.randrange(10**14, 10**15))


@pytest.fixture(scope="module")
def fake_api():
    api = FakeLineApi(ACCESS_TOKEN).start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def line_server(trained_model, fake_api: FakeLineApi, tmp_path_factory) -> RunningServer:
    """One madoguchi server with LINE on, for every test in this module."""
    extra = {"MADOGUCHI_FAKE_NOW": FAKE_NOW, "MADOGUCHI_LINE_CHANNEL_SECRET": SECRET,
             "MADOGUCHI_LINE_ACCESS_TOKEN": ACCESS_TOKEN, "MADOGUCHI_LINE_API_URL": fake_api.url}
    with running_server(tmp_path_factory.mktemp("line-var"), API_TOKEN, extra) as running:
        yield running


# --- building webhook bodies as LINE does ------------------------------------------------------
def sign(body: bytes, secret: str = SECRET) -> str:
    """X-Line-Signature: base64(HMAC-SHA256(channel secret, raw body))."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def webhook_event_id() -> str:
    """LINE's webhookEventId is a ULID (26 Crockford base32 characters)."""
    return "".join(random.choice(ULID_DIGITS) for _ in range(26))


def new_user_id() -> str:
    return "U" + secrets.token_hex(16)


def body_of(*events: Dict[str, Any]) -> bytes:
    return json.dumps({"destination": DESTINATION, "events": list(events)}, ensure_ascii=False).encode("utf-8")


@dataclass
class Resident:
    """One LINE user in a one-to-one chat with the bot's official account."""

    server: RunningServer
    api: FakeLineApi
    user_id: str
    reply_tokens: List[str] = field(default_factory=list)

    @property
    def sender(self) -> str:
        return f"line:{self.user_id}"

    def event(self, type_: str, replyable: bool = True, **content: Any) -> Dict[str, Any]:
        event: Dict[str, Any] = {
            "type": type_, "mode": "active", "timestamp": int(time.time() * 1000),
            "source": {"type": "user", "userId": self.user_id},
            "webhookEventId": webhook_event_id(), "deliveryContext": {"isRedelivery": False},
        }
        if replyable:
            event["replyToken"] = uuid.uuid4().hex
            self.reply_tokens.append(event["replyToken"])
        event.update(content)
        return event

    def text_event(self, text: Any) -> Dict[str, Any]:
        return self.event("message", message={"id": str(next(_ids)), "type": "text", "text": text,
                                              "quoteToken": uuid.uuid4().hex})

    def post(self, body: bytes, signature: Optional[str] = "sign") -> httpx.Response:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if signature == "sign":
            signature = sign(body)
        if signature is not None:
            headers[SIGNATURE_HEADER] = signature
        return httpx.post(f"{self.server.base_url}/webhooks/line/webhook", content=body, headers=headers,
                          timeout=60)

    def sent(self) -> List[Call]:
        """Every reply (by this resident's reply tokens) and push (to this user) so far."""
        return [c for c in self.api.sent()
                if (c.kind == "reply" and c.reply_token in self.reply_tokens)
                or (c.kind == "push" and c.to == self.user_id)]

    def send(self, *events: Dict[str, Any]) -> List[Call]:
        """Post events in one signed webhook call; the calls the bot made to this user meanwhile."""
        before = len(self.sent())
        reply = self.post(body_of(*events))
        assert reply.status_code == 200, reply.text
        return self.sent()[before:]

    def say(self, text: Any) -> List[Call]:
        return self.send(self.text_event(text))

    def press(self, shown: List[Call], data_prefix: str) -> List[Call]:
        """Tap the first quick reply whose postback data starts with the prefix."""
        action = next(a for a in quick_replies(shown) if a["data"].startswith(data_prefix))
        return self.send(self.event("postback", postback={"data": action["data"]}))

    def user_events(self) -> List[Dict[str, Any]]:
        reply = httpx.get(f"{self.server.base_url}/conversations/{self.sender}/tracker",
                          params={"token": self.server.token}, timeout=60)
        reply.raise_for_status()
        return [e for e in reply.json()["events"] if e["event"] == "user"]


@pytest.fixture
def resident(line_server: RunningServer, fake_api: FakeLineApi) -> Resident:
    return Resident(line_server, fake_api, new_user_id())


def texts(calls: List[Call]) -> str:
    return "\n".join(t for c in calls for t in c.texts)


def quick_replies(calls: List[Call]) -> List[Dict[str, Any]]:
    return [a for c in calls for a in c.quick_replies]


# --- signatures ------------------------------------------------------------------------------------
def test_our_signatures_are_the_sdks_signatures():
    body = body_of({"type": "follow", "replyToken": "r", "source": {"type": "user", "userId": new_user_id()}})
    assert SignatureValidator(SECRET).validate(body.decode("utf-8"), sign(body))
    assert not SignatureValidator(SECRET).validate(body.decode("utf-8"), sign(body, SECRET[::-1]))
    assert not SignatureValidator(SECRET).validate(body.decode("utf-8") + " ", sign(body))


@pytest.mark.parametrize("signature", [None, "", "wrong", "other-secret", "tampered"])
def test_missing_or_wrong_signature_is_refused_and_nothing_happens(resident: Resident, fake_api: FakeLineApi,
                                                                   signature: Optional[str]):
    body = body_of(resident.text_event("マイナンバーカードをなくしました"))
    if signature == "other-secret":
        signature = sign(body, SECRET[::-1])
    elif signature == "tampered":  # signed, then changed on the way
        signature, body = sign(body), body.replace("なくしました".encode(), "みつけました".encode())
    before = len(fake_api.sent())
    reply = resident.post(body, signature)
    assert reply.status_code == 403
    assert fake_api.sent()[before:] == [] and resident.sent() == []
    assert resident.user_events() == []


# --- answers and buttons ------------------------------------------------------------------------------
def test_question_gets_the_answer_with_quick_reply_buttons(resident: Resident):
    calls = resident.say("マイナンバーカードをなくしました")
    assert "0120-95-0178" in texts(calls)
    assert [c.kind for c in calls] == ["reply"]  # one turn, one reply call
    messages = calls[0].messages
    assert 1 <= len(messages) <= 5
    assert all("quickReply" not in m for m in messages[:-1])  # only the last message carries them
    actions = quick_replies(calls)
    data = [a["data"] for a in actions]
    assert '/ask_documents{"procedure":"mynumber_lost"}' in data
    assert "/request_human" in data
    assert 1 <= len(actions) <= 13
    assert all(a["type"] == "postback" and 1 <= len(a["label"]) <= 20 and a["displayText"] == a["label"]
               for a in actions)
    assert all(not a["label"].startswith("/") for a in actions)  # labels, not payloads


def test_an_faq_answer_offers_its_page_as_a_link_first(resident: Resident):
    entry = CATALOG.faq["garbage_bulky"]
    calls = resident.say(entry.question["ja"])
    assert entry.answer["ja"] in texts(calls)
    actions = quick_replies(calls)
    assert actions[0]["type"] == "uri" and actions[0]["uri"] == entry.url and 1 <= len(actions[0]["label"]) <= 20
    assert "/request_human" in [a.get("data") for a in actions[1:]]


def test_a_postback_gets_the_follow_up(resident: Resident):
    shown = resident.say("マイナンバーカードをなくしました")
    action = next(a for a in quick_replies(shown) if a["data"].startswith("/ask_documents"))
    reply = texts(resident.press(shown, "/ask_documents"))
    assert reply.startswith(CATALOG.procedures["mynumber_lost"].title.ja + "の持ち物は")  # the documents answer
    assert "警察の遺失届・盗難届の受理番号" in reply
    last = resident.user_events()[-1]
    assert last["text"] == action["data"]
    assert last["metadata"]["title"].startswith(action["label"].rstrip("…"))  # the transcript shows the label


def test_following_the_account_greets(resident: Resident):
    calls = resident.send(resident.event("follow", follow={"isUnblocked": False}))
    assert texts(calls)
    assert '/change_language{"language":"en"}' in [a["data"] for a in quick_replies(calls)]


def test_easy_japanese_is_sent_with_readings_in_parentheses(resident: Resident):
    greeting = resident.send(resident.event("follow", follow={"isUnblocked": False}))
    resident.press(greeting, '/change_language{"language":"easy"}')
    reply = texts(resident.say("マイナンバーカードをなくしました"))
    assert "電話(でんわ)" in reply and "{" not in reply and "|" not in reply


def test_a_redelivered_event_is_handled_once(resident: Resident):
    event = resident.text_event("住民票の写しがほしい")
    first = resident.send(event)
    again = resident.send({**event, "deliveryContext": {"isRedelivery": True}})
    assert first and again == []
    assert len(resident.user_events()) == 1


def test_several_events_in_one_call_are_all_answered(resident: Resident):
    calls = resident.send(resident.text_event("住民票の写しがほしい"),
                          resident.text_event("マイナンバーカードをなくしました"))
    assert [c.kind for c in calls] == ["reply", "reply"]
    assert "0120-95-0178" in texts(calls[1:])
    assert len(resident.user_events()) == 2


def test_expired_long_payload_button_is_answered_not_processed(resident: Resident):
    calls = resident.send(resident.event("postback", postback={"data": "~" + "0" * 32}))
    assert texts(calls) == notice("expired_button")
    assert resident.user_events() == []


# --- inbound rules and bad input ------------------------------------------------------------------------
def test_my_number_is_redacted_and_the_resident_warned(resident: Resident):
    first_eleven = "12345678901"
    my_number = first_eleven + str(my_number_check_digit(first_eleven))
    calls = resident.say(f"マイナンバーは{my_number[:4]} {my_number[4:8]} {my_number[8:]}です")
    assert CATALOG.phrases["redacted_my_number"].ja in texts(calls)
    stored = resident.user_events()
    assert stored and "[個人番号]" in stored[-1]["text"]
    assert all(my_number[:4] not in e["text"] and my_number not in e["text"].replace(" ", "") for e in stored)
    assert stored[-1]["metadata"]["redacted"] == ["my_number"]


def test_full_width_my_number_is_redacted_too(resident: Resident):
    first_eleven = "98765432109"
    my_number = first_eleven + str(my_number_check_digit(first_eleven))
    wide = my_number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    resident.say(f"番号は{wide}")
    stored = resident.user_events()
    assert stored and my_number not in stored[-1]["text"] and wide not in stored[-1]["text"]


def test_oversized_message_gets_a_polite_reply(resident: Resident):
    calls = resident.say("あ" * 2001)
    reply = texts(calls)
    assert "長すぎます" in reply and "too long" in reply and "2000" in reply
    assert resident.user_events() == []


def test_stickers_images_audio_and_locations_get_a_polite_reply(resident: Resident):
    contents = [
        {"type": "sticker", "packageId": "11537", "stickerId": "52002734", "stickerResourceType": "STATIC",
         "keywords": ["Hello"]},
        {"type": "image", "contentProvider": {"type": "line"}, "imageSet": {"id": "set-1", "index": 1, "total": 1}},
        {"type": "audio", "duration": 6000, "contentProvider": {"type": "line"}},
        {"type": "location", "title": "市役所", "address": "東京都千代田区", "latitude": 35.69, "longitude": 139.69},
        {"type": "somethingNew", "payload": {"x": 1}},
    ]
    for content in contents:
        calls = resident.send(resident.event("message", message={"id": str(next(_ids)), **content}))
        assert texts(calls) == notice("non_text"), content["type"]
        assert "マイナンバーカードの写真" in texts(calls)
    assert resident.user_events() == []


def test_events_that_are_not_for_the_bot_are_acknowledged_and_ignored(resident: Resident):
    group = {"type": "group", "groupId": "C" + secrets.token_hex(16), "userId": resident.user_id}
    standby = resident.text_event("人と話したい")
    standby.pop("replyToken")
    standby["mode"] = "standby"
    events = [
        resident.event("unfollow", replyable=False),
        {**resident.text_event("マイナンバーカードをなくしました"), "source": group},
        resident.event("join", source=group),
        resident.event("unsend", replyable=False, unsend={"messageId": "1"}),
        resident.event("somethingNew", replyable=False),
        standby,
    ]
    assert resident.send(*events) == []
    assert resident.post(body_of()).status_code == 200  # the console's "Verify" button sends no events
    assert resident.user_events() == []


@pytest.mark.parametrize("body", [b"{not json", b"", b"[1, 2]", b'"text"', b"{}", b'{"events": 5}',
                                  b'{"events": [1]}', b'{"events": [{"type": 5}]}',
                                  b'{"events": [{"type": "message", "message": "hello"}]}',
                                  b'{"events": [{"type": "message", "source": {"type": "user", "userId": 5},'
                                  b' "message": {"type": "text", "text": "hi"}, "replyToken": "r"}]}',
                                  b'{"events": [{"type": "postback", "postback": {"data": ["x"]},'
                                  b' "source": {"type": "user", "userId": "U00000000000000000000000000000000"}}]}'])
def test_malformed_bodies_are_refused_without_a_crash(resident: Resident, body: bytes):
    reply = resident.post(body)
    assert reply.status_code in (200, 400)
    if reply.status_code == 400:
        assert reply.json()["error"] in ("malformed_json", "invalid_webhook")
    assert "0120-95-0178" in texts(resident.say("マイナンバーカードをなくしました"))  # still serving


def test_a_binary_body_cannot_be_verified(resident: Resident):
    body = b"\xff\xfe\x00binary"
    assert resident.post(body, sign(body)).status_code == 403
    assert "0120-95-0178" in texts(resident.say("マイナンバーカードをなくしました"))


def test_wrong_types_inside_a_message_get_a_polite_reply(resident: Resident):
    calls = resident.say(12345)
    assert texts(calls) == notice("invalid_message")
    assert resident.user_events() == []


# --- staff replies through push() ---------------------------------------------------------------------------
def add_staff(server: RunningServer, username: str, display_name: str) -> None:
    env = dict(os.environ, MADOGUCHI_VAR=str(server.var_dir))
    result = subprocess.run([sys.executable, "-m", "bot.cli", "staff", "add", "--username", username,
                             "--role", "staff", "--display-name", display_name, "--password-stdin"],
                            input=PASSWORD + "\n", capture_output=True, text=True, cwd=PROJECT_ROOT, env=env)
    assert result.returncode == 0, result.stderr


def test_staff_reply_reaches_the_line_user(resident: Resident):
    username = f"suzuki{uuid.uuid4().hex[:6]}"
    add_staff(resident.server, username, "鈴木")
    with httpx.Client(base_url=resident.server.base_url, timeout=60) as clerk:
        login = clerk.post("/staff/api/login", json={"username": username, "password": PASSWORD})
        assert login.status_code == 200, login.text
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}

        joined = resident.say("人と話したい")
        assert "順番待ち" in texts(joined) and "番目" in texts(joined)
        assert "/cancel_handoff" in [a["data"] for a in quick_replies(joined)]

        claim = clerk.post(f"/staff/api/conversations/{resident.sender}/claim", headers=csrf)
        assert claim.status_code == 200, claim.text
        pushed = [c for c in resident.sent() if c.kind == "push"]
        assert CATALOG.phrases["staff_joined"].ja.format(name="鈴木") in texts(pushed)

        text = "市民課の鈴木です。ご用件を伺います。"
        sent = clerk.post(f"/staff/api/conversations/{resident.sender}/messages", json={"text": text}, headers=csrf)
        assert sent.status_code == 200 and sent.json()["delivered"] is True
        last = [c for c in resident.sent() if c.kind == "push"][-1]
        assert last.to == resident.user_id
        assert last.texts[-1].startswith("鈴木") and text in last.texts[-1]

        # While a person handles the chat, the resident's messages reach staff, not the bot.
        assert resident.say("よろしくお願いします") == []
        transcript = clerk.get(f"/staff/api/conversations/{resident.sender}").json()["transcript"]
        assert any(line.get("text") == "よろしくお願いします" for line in transcript)


# --- the channel in-process: limits, images, push targets, reply fallback -------------------------------------
def run_with(channel: LineInput, scenario: Any) -> Any:
    async def run() -> Any:
        try:
            return await scenario()
        finally:
            await channel.close()

    return asyncio.run(run())


def test_push_splits_long_text_skips_data_url_images_and_refuses_other_channels(fake_api: FakeLineApi):
    channel = LineInput(SECRET, ACCESS_TOKEN, fake_api.url)
    user_id = new_user_id()
    png = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
    slip = {"text": "来庁票です。", "image": f"data:image/png;base64,{png}",
            "buttons": [{"title": "来庁票をもう一度表示する(QRコード付き)", "payload": "/visit_slip"}]}
    long_text = {"text": "\n".join(["ご案内です。" * 100] * 12)}  # 7,211 characters
    photo = {"text": "地図です。", "image": "https://example.jp/map.png"}

    async def scenario() -> List[bool]:
        return [await channel.push(f"line:{user_id}", slip), await channel.push(f"line:{user_id}", long_text),
                await channel.push(f"line:{user_id}", photo), await channel.push("web-" + "0" * 32, slip),
                await channel.push("line:not-a-user", slip), await channel.push("telegram:12345", slip)]

    assert run_with(channel, scenario) == [True, True, True, False, False, False]
    first, second, third = [c for c in fake_api.sent("push") if c.to == user_id]
    # The QR code is a data URL, which LINE cannot fetch: the slip's text goes alone.
    assert [m["type"] for m in first.messages] == ["text"] and first.texts == ["来庁票です。"]
    label = first.quick_replies[0]["label"]
    assert len(label) <= 20 and label.endswith("…") and first.quick_replies[0]["data"] == "/visit_slip"
    assert len(second.messages) == 2 and all(len(t) <= 5000 for t in second.texts)
    assert "".join(second.texts).replace("\n", "") == long_text["text"].replace("\n", "")
    assert [m["type"] for m in third.messages] == ["text", "image"]
    assert third.messages[1]["originalContentUrl"] == "https://example.jp/map.png"


def test_a_long_turn_replies_five_and_pushes_the_rest_with_buttons_last(fake_api: FakeLineApi):
    channel = LineInput(SECRET, ACCESS_TOKEN, fake_api.url)
    user_id, token = new_user_id(), uuid.uuid4().hex
    buttons = [{"title": f"選択肢{n}", "payload": f"/choice{{\"n\":{n}}}"} for n in range(20)]
    turn = [{"text": f"{n}番目のお知らせです。"} for n in range(6)] + [{"text": "選んでください。", "buttons": buttons}]

    run_with(channel, lambda: channel.send(user_id, turn, token))
    reply = next(c for c in fake_api.sent("reply") if c.reply_token == token)
    pushed = [c for c in fake_api.sent("push") if c.to == user_id]
    assert len(reply.messages) == 5 and reply.quick_replies == []
    assert len(pushed) == 1 and pushed[0].texts == ["5番目のお知らせです。", "選んでください。"]
    assert [a["data"] for a in pushed[0].quick_replies] == [b["payload"] for b in buttons[:13]]


def test_a_refused_reply_token_falls_back_to_push(fake_api: FakeLineApi):
    channel = LineInput(SECRET, ACCESS_TOKEN, fake_api.url)
    user_id, token = new_user_id(), uuid.uuid4().hex
    fake_api.use_reply_token(token)  # e.g. a redelivered event whose token has expired

    run_with(channel, lambda: channel.send(user_id, [{"text": "こんにちは"}], token))
    assert not [c for c in fake_api.sent("reply") if c.reply_token == token]
    assert [c.texts for c in fake_api.sent("push") if c.to == user_id] == [["こんにちは"]]


def test_a_wrong_access_token_makes_push_report_failure(fake_api: FakeLineApi):
    channel = LineInput(SECRET, "not-the-token", fake_api.url)
    user_id = new_user_id()
    assert run_with(channel, lambda: channel.push(f"line:{user_id}", {"text": "こんにちは"})) is False
    assert [c for c in fake_api.sent("push") if c.to == user_id] == []


def test_long_payloads_get_short_postback_data_that_resolves():
    payloads = postback_payloads(capacity=2)
    long_payload = '/ask_documents{"procedure":"' + "x" * 300 + '"}'
    data = payloads.data_for(long_payload, "必要な書類")
    assert len(data) <= 300 and data != long_payload
    assert payloads.data_for(long_payload) == data and payloads.payload_for(data) == long_payload
    assert payloads.title_for(data) == "必要な書類"
    assert payloads.data_for("/greet") == "/greet" and payloads.payload_for("/greet") == "/greet"
    payloads.data_for(long_payload + "1")
    payloads.data_for(long_payload + "2")
    assert payloads.payload_for(data) is None  # evicted: the button answers "expired"
