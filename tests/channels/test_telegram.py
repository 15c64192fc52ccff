"""The Telegram channel end to end: real madoguchi server ↔ a local fake Bot API.

Updates are built with PTB's own classes and posted to /webhooks/telegram/webhook with
the secret header, exactly as Telegram would; what the bot says is read back from the
fake Bot API's record of sendMessage/sendPhoto/answerCallbackQuery calls.
"""
from __future__ import annotations

import asyncio
import base64
import datetime as dt
import itertools
import os
import random
import subprocess
import sys
import uuid
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import httpx
import pytest
from telegram import CallbackQuery, Chat, InlineKeyboardMarkup, Message, PhotoSize, Sticker, Update, User, Voice

from bot.catalog import load_catalog
from bot.redaction import my_number_check_digit
from bot.settings import PROJECT_ROOT
from channels.base import notice_text
from channels.telegram import SECRET_HEADER, TelegramInput, callback_payloads
from tests.channels.fake_telegram import Call, FakeBotApi
from tests.conftest import API_TOKEN, FAKE_NOW
from tests.devserver import RunningServer, running_server

TOKEN = "123456789:TEST-madoguchi-telegram-token"
SECRET = "madoguchi_test-secret_42"
PASSWORD = "correct horse battery"
CATALOG = load_catalog(PROJECT_ROOT / "intents")


def notice(name: str) -> str:
    """What the channel says itself (the catalog's `notice_<name>`, in Japanese and English)."""
    return notice_text(CATALOG, name)
_ids = itertools.count(random.randrange(10_000, 1_000_000))


@pytest.fixture(scope="module")
def fake_api():
    api = FakeBotApi(TOKEN).start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def telegram_server(trained_model, fake_api: FakeBotApi, tmp_path_factory) -> RunningServer:
    """One madoguchi server with Telegram on, for every test in this module."""
    extra = {"MADOGUCHI_FAKE_NOW": FAKE_NOW, "MADOGUCHI_TELEGRAM_TOKEN": TOKEN,
             "MADOGUCHI_TELEGRAM_SECRET": SECRET, "MADOGUCHI_TELEGRAM_API_URL": fake_api.url}
    with running_server(tmp_path_factory.mktemp("telegram-var"), API_TOKEN, extra) as running:
        yield running


# --- building updates with PTB ---------------------------------------------------------------
def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


@dataclass
class Resident:
    """One Telegram user in a private chat with the bot."""

    server: RunningServer
    api: FakeBotApi
    chat_id: int

    @property
    def user(self) -> User:
        return User(id=self.chat_id, first_name="花子", is_bot=False, language_code="ja")

    @property
    def chat(self) -> Chat:
        return Chat(id=self.chat_id, type=Chat.PRIVATE, first_name="花子")

    @property
    def sender(self) -> str:
        return f"telegram:{self.chat_id}"

    def message(self, **content: Any) -> Message:
        return Message(message_id=next(_ids), date=now(), chat=self.chat, from_user=self.user, **content)

    def post(self, update: Any, secret: Optional[str] = SECRET) -> httpx.Response:
        body = update.to_json() if isinstance(update, Update) else update
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        return httpx.post(f"{self.server.base_url}/webhooks/telegram/webhook", content=body, headers=headers,
                          timeout=60)

    def send(self, update: Update, secret: Optional[str] = SECRET) -> List[Call]:
        """Post an update; the calls the bot made to this chat while handling it."""
        before = len(self.api.sent(self.chat_id))
        reply = self.post(update, secret)
        assert reply.status_code == 200, reply.text
        return self.api.sent(self.chat_id)[before:]

    def say(self, text: str) -> List[Call]:
        return self.send(Update(update_id=next(_ids), message=self.message(text=text)))

    def press(self, shown: Call, payload_prefix: str, query_id: str = "") -> List[Call]:
        """Press the first button of a shown message whose callback_data starts with the prefix."""
        button = next(b for b in shown.keyboard if b.get("callback_data", "").startswith(payload_prefix))
        query = CallbackQuery(id=query_id or str(uuid.uuid4()), from_user=self.user, chat_instance="ci-1",
                              data=button["callback_data"], message=self.shown_message(shown))
        return self.send(Update(update_id=next(_ids), callback_query=query))

    def shown_message(self, shown: Call) -> Message:
        markup = InlineKeyboardMarkup.de_json({"inline_keyboard": [[b] for b in shown.keyboard]}, None)
        return Message(message_id=next(_ids), date=now(), chat=self.chat, text=shown.params.get("text"),
                       reply_markup=markup)

    def user_events(self) -> List[Dict[str, Any]]:
        reply = httpx.get(f"{self.server.base_url}/conversations/{self.sender}/tracker",
                          params={"token": self.server.token}, timeout=60)
        reply.raise_for_status()
        return [e for e in reply.json()["events"] if e["event"] == "user"]


@pytest.fixture
def resident(telegram_server: RunningServer, fake_api: FakeBotApi) -> Resident:
    return Resident(telegram_server, fake_api, random.randrange(10**8, 10**10))


def texts(calls: List[Call]) -> str:
    return "\n".join(c.params.get("text", "") for c in calls if c.method == "sendMessage")


def buttons(calls: List[Call]) -> List[Dict[str, Any]]:
    return [b for c in calls for b in c.keyboard]


# --- answers and buttons ------------------------------------------------------------------------
def test_question_gets_the_answer_with_inline_buttons(resident: Resident):
    calls = resident.say("マイナンバーカードをなくしました")
    assert "0120-95-0178" in texts(calls)
    data = [b["callback_data"] for b in buttons(calls)]
    assert '/ask_documents{"procedure":"mynumber_lost"}' in data
    assert "/request_human" in data
    assert all(len(d.encode()) <= 64 for d in data)
    assert all(b["text"] for b in buttons(calls))  # labels, not payloads


def test_pressing_a_button_answers_the_query_and_follows_up(resident: Resident, fake_api: FakeBotApi):
    shown = next(c for c in resident.say("マイナンバーカードをなくしました") if c.keyboard)
    pressed = next(b for b in shown.keyboard if b["callback_data"].startswith("/ask_documents"))
    query_id = uuid.uuid4().hex
    calls = resident.press(shown, "/ask_documents", query_id)

    answers = [c for c in fake_api.sent(method="answerCallbackQuery") if c.params["callback_query_id"] == query_id]
    assert len(answers) == 1 and "text" not in answers[0].params  # a plain answer: the spinner stops
    reply = texts(calls)
    assert reply.startswith(CATALOG.procedures["mynumber_lost"].title.ja + "の持ち物は")  # the documents answer
    assert "警察の遺失届・盗難届の受理番号" in reply
    last = resident.user_events()[-1]
    assert last["text"] == pressed["callback_data"]
    assert last["metadata"]["title"] == pressed["text"]  # the transcript shows the label


def test_an_faq_answer_carries_its_page_as_a_link_button_first(resident: Resident):
    entry = CATALOG.faq["garbage_bulky"]
    calls = resident.say(entry.question["ja"])
    assert entry.answer["ja"] in texts(calls)
    shown = next(c for c in calls if c.keyboard)
    assert shown.keyboard[0] == {"text": entry.question["ja"], "url": entry.url}
    assert any(b.get("callback_data") == "/request_human" for b in shown.keyboard[1:])


def test_start_command_greets(resident: Resident):
    calls = resident.say("/start")
    assert '/change_language{"language":"en"}' in [b["callback_data"] for b in buttons(calls)]


def test_easy_japanese_is_sent_with_readings_in_parentheses(resident: Resident):
    greeting = next(c for c in resident.say("/start") if c.keyboard)
    resident.press(greeting, '/change_language{"language":"easy"}')
    reply = texts(resident.say("マイナンバーカードをなくしました"))
    assert "電話(でんわ)" in reply and "{" not in reply and "|" not in reply


def test_a_resent_update_is_handled_once(resident: Resident):
    update = Update(update_id=next(_ids), message=resident.message(text="住民票の写しがほしい"))
    first = resident.send(update)
    again = resident.send(update)
    assert first and again == []
    assert len(resident.user_events()) == 1


def test_expired_long_payload_button_is_answered_not_processed(resident: Resident, fake_api: FakeBotApi):
    query = CallbackQuery(id="expired-query", from_user=resident.user, chat_instance="ci-1", data="~" + "0" * 32,
                          message=resident.message(text="old"))
    calls = resident.send(Update(update_id=next(_ids), callback_query=query))
    answer = next(c for c in fake_api.sent(method="answerCallbackQuery")
                  if c.params["callback_query_id"] == "expired-query")
    assert "expired" in answer.params["text"]
    assert calls == [] and resident.user_events() == []


# --- signatures and bad input ---------------------------------------------------------------------
@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET + "x", SECRET[:-1]])
def test_missing_or_wrong_secret_is_refused_and_nothing_happens(resident: Resident, secret: Optional[str]):
    update = Update(update_id=next(_ids), message=resident.message(text="マイナンバーカードをなくしました"))
    before = len(resident.api.sent(resident.chat_id))
    reply = resident.post(update, secret)
    assert reply.status_code == 403
    assert resident.api.sent(resident.chat_id)[before:] == []
    assert resident.user_events() == []


def test_my_number_is_redacted_and_the_resident_warned(resident: Resident):
    first_eleven = "12345678901"
    my_number = first_eleven + str(my_number_check_digit(first_eleven))
    calls = resident.say(f"マイナンバーは{my_number[:4]} {my_number[4:8]} {my_number[8:]}です")
    assert CATALOG.phrases["redacted_my_number"].ja in texts(calls)
    stored = resident.user_events()
    assert stored and "[個人番号]" in stored[-1]["text"]
    assert all(my_number[:4] not in e["text"] and my_number not in e["text"].replace(" ", "") for e in stored)
    assert stored[-1]["metadata"]["redacted"] == ["my_number"]


def test_oversized_message_gets_a_polite_reply(resident: Resident):
    calls = resident.say("あ" * 2001)
    reply = texts(calls)
    assert "長すぎます" in reply and "too long" in reply and "2000" in reply
    assert resident.user_events() == []


def test_stickers_photos_and_voice_get_a_polite_reply(resident: Resident):
    sticker = Sticker("st-1", "u-st-1", 512, 512, False, False, Sticker.REGULAR, emoji="😀")
    photo = [PhotoSize("ph-1", "u-ph-1", 320, 240)]
    for content in ({"sticker": sticker}, {"photo": photo, "caption": "これ"}, {"voice": Voice("v-1", "u-v-1", 3)}):
        calls = resident.send(Update(update_id=next(_ids), message=resident.message(**content)))
        assert texts(calls) == notice("non_text")
    assert resident.user_events() == []


def test_edited_and_unknown_updates_are_not_processed(resident: Resident):
    edited = resident.send(Update(update_id=next(_ids), edited_message=resident.message(text="人と話したい")))
    assert texts(edited) == notice("edited")
    unknown = resident.post(f'{{"update_id": {next(_ids)}, "something_new": {{"id": 1}}}}')
    assert unknown.status_code == 200
    assert resident.user_events() == []


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe", b"[1, 2]", b'"text"', b'{"update_id": "1"}',
                                  b'{"update_id": 5, "message": "hello"}',
                                  b'{"update_id": 6, "message": {"message_id": "x", "chat": 3}}',
                                  b'{"update_id": 7, "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
                                  b'{"update_id": 8, "x": ' + b'{"a":' * 700 + b'"\\ud800"' + b"}" * 701])
def test_malformed_bodies_are_refused_without_a_crash(resident: Resident, body: bytes):
    reply = resident.post(body)
    assert reply.status_code in (200, 400)
    if reply.status_code == 400:
        assert reply.json()["error"] in ("malformed_json", "invalid_update")
    assert "0120-95-0178" in texts(resident.say("マイナンバーカードをなくしました"))  # still serving


def test_wrong_types_inside_a_message_get_a_polite_reply(resident: Resident):
    body = (f'{{"update_id": {next(_ids)}, "message": {{"message_id": 1, "date": 0, '
            f'"chat": {{"id": {resident.chat_id}, "type": "private"}}, "text": 12345}}}}')
    before = len(resident.api.sent(resident.chat_id))
    assert resident.post(body).status_code == 200
    assert texts(resident.api.sent(resident.chat_id)[before:]) == notice("invalid_message")


def test_a_lone_surrogate_in_an_update_is_replaced_not_a_crash(resident: Resident):
    body = (f'{{"update_id": {next(_ids)}, "message": {{"message_id": 1, "date": 0, '
            f'"chat": {{"id": {resident.chat_id}, "type": "private", "first_name": "\\udc00"}}, '
            f'"text": "\\ud800\\u4f4f\\u6c11\\u7968"}}}}')
    before = len(resident.api.sent(resident.chat_id))
    assert resident.post(body).status_code == 200
    assert resident.api.sent(resident.chat_id)[before:]  # answered
    assert resident.user_events()[-1]["text"] == "\ufffd住民票"


# --- staff replies through push() --------------------------------------------------------------
def add_staff(server: RunningServer, username: str, display_name: str) -> None:
    env = dict(os.environ, MADOGUCHI_VAR=str(server.var_dir))
    result = subprocess.run([sys.executable, "-m", "bot.cli", "staff", "add", "--username", username,
                             "--role", "staff", "--display-name", display_name, "--password-stdin"],
                            input=PASSWORD + "\n", capture_output=True, text=True, cwd=PROJECT_ROOT, env=env)
    assert result.returncode == 0, result.stderr


def test_staff_reply_reaches_the_telegram_user(resident: Resident, fake_api: FakeBotApi):
    username = f"tanaka{uuid.uuid4().hex[:6]}"
    add_staff(resident.server, username, "田中")
    with httpx.Client(base_url=resident.server.base_url, timeout=60) as clerk:
        login = clerk.post("/staff/api/login", json={"username": username, "password": PASSWORD})
        assert login.status_code == 200, login.text
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}

        joined = resident.say("人と話したい")
        assert "順番待ち" in texts(joined) and "番目" in texts(joined)
        assert "/cancel_handoff" in [b["callback_data"] for b in buttons(joined)]

        claim = clerk.post(f"/staff/api/conversations/{resident.sender}/claim", headers=csrf)
        assert claim.status_code == 200, claim.text
        assert CATALOG.phrases["staff_joined"].ja.format(name="田中") in fake_api.texts(resident.chat_id)

        text = "市民課の田中です。ご用件を伺います。"
        sent = clerk.post(f"/staff/api/conversations/{resident.sender}/messages", json={"text": text}, headers=csrf)
        assert sent.status_code == 200 and sent.json()["delivered"] is True
        to_chat = fake_api.sent(resident.chat_id, "sendMessage")[-1]
        assert text in to_chat.params["text"] and to_chat.params["text"].startswith("田中")

        # While a person handles the chat, the resident's messages reach staff, not the bot.
        assert resident.say("よろしくお願いします") == []
        transcript = clerk.get(f"/staff/api/conversations/{resident.sender}").json()["transcript"]
        assert any(line.get("text") == "よろしくお願いします" for line in transcript)


# --- the channel in-process: long payloads, images, push targets ----------------------------------
def test_long_payloads_get_short_callback_data_that_resolves():
    payloads = callback_payloads(capacity=2)
    long_payload = '/ask_documents{"procedure":"' + "x" * 80 + '"}'
    data = payloads.data_for(long_payload)
    assert len(data.encode()) <= 64 and data != long_payload
    assert payloads.data_for(long_payload) == data and payloads.payload_for(data) == long_payload
    assert payloads.data_for("/greet") == "/greet" and payloads.payload_for("/greet") == "/greet"
    payloads.data_for(long_payload + "1")
    payloads.data_for(long_payload + "2")
    assert payloads.payload_for(data) is None  # evicted: the button answers "expired"


def test_push_sends_buttons_images_and_refuses_other_channels(fake_api: FakeBotApi):
    channel = TelegramInput(TOKEN, SECRET, fake_api.url)
    png = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
    long_payload = '/visit_slip{"note":"' + "y" * 70 + '"}'
    message = {"text": "来庁票です。", "lang": "ja", "variant": "ja", "image": f"data:image/png;base64,{png}",
               "buttons": [{"title": "来庁票", "payload": long_payload}]}
    chat_id = random.randrange(10**8, 10**10)

    async def scenario() -> List[bool]:
        try:
            return [await channel.push(f"telegram:{chat_id}", message),
                    await channel.push("web-" + "0" * 32, message),
                    await channel.push("telegram:not-a-number", message)]
        finally:
            await channel.close()

    assert asyncio.run(scenario()) == [True, False, False]
    text, photo = fake_api.sent(chat_id)
    assert (text.method, text.params["text"], text.keyboard) == ("sendMessage", "来庁票です。", [])
    assert photo.method == "sendPhoto" and photo.files["photo"] == base64.b64decode(png)
    data = photo.keyboard[0]["callback_data"]
    assert len(data.encode()) <= 64 and channel.payloads.payload_for(data) == long_payload
