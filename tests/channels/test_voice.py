"""The phone channel end to end: a real madoguchi server, calls driven as Twilio drives them.

Every webhook request is a form post signed with twilio's own `RequestValidator` against
MADOGUCHI_PUBLIC_URL + the path, as Twilio signs them; the TwiML answers are read as XML.
What a `<Play>` says is checked through the speech cache: the test asks a speech service on
the server's cache directory for the audio of the text the dialogue said (a cache hit, the
same file), so a Play URL is matched to its text exactly.
"""
from __future__ import annotations

import ast
import asyncio
import itertools
import random
import re
import shutil
import sqlite3
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Dict, List, Optional
from urllib.parse import quote

import httpx
import pytest
from twilio.request_validator import RequestValidator

from bot.catalog import CatalogError, load_catalog
from bot.catalog.model import PHONE_PROMPTS
from bot.redaction import my_number_check_digit
from bot.settings import PROJECT_ROOT, Settings
from bot.speech import SpeechService, for_the_ear
from bot.speech.answers import catalog_answers
from channels import voice
from channels.voice import VoiceInput, split_parts
from tests.channels.fake_twilio import FakeTwilioApi
from tests.channels.twilio_requests import call_fields, gather_fields, signature_of, status_fields
from tests.conftest import API_TOKEN, FAKE_NOW
from tests.devserver import RunningServer, running_server
from tests.handoff.conftest import add_account, login
from tests.speech.fake_google import FakeGoogleTts

AUTH_TOKEN = "madoguchi-test-twilio-auth-token-0123456789"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
SMS_FROM = "+815012345678"
# http: the staff login in the last test works over plain HTTP only without Secure cookies
PUBLIC_URL = "http://madoguchi.city.sample.lg.jp"
OUR_NUMBER = "+81501234000"
CATALOG = load_catalog(PROJECT_ROOT / "intents")
_numbers = itertools.count(random.randrange(10_000_000, 90_000_000))


@pytest.fixture(scope="module")
def twilio_api():
    api = FakeTwilioApi(ACCOUNT_SID, AUTH_TOKEN).start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def voice_server(trained_model, twilio_api: FakeTwilioApi, tmp_path_factory) -> RunningServer:
    extra = {"MADOGUCHI_FAKE_NOW": FAKE_NOW, "MADOGUCHI_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
             "MADOGUCHI_PUBLIC_URL": PUBLIC_URL, "MADOGUCHI_TTS": "openjtalk",
             "MADOGUCHI_TWILIO_ACCOUNT_SID": ACCOUNT_SID, "MADOGUCHI_TWILIO_FROM": SMS_FROM,
             "MADOGUCHI_TWILIO_API_URL": twilio_api.url,
             "MADOGUCHI_TTS_PRESYNTHESIS": "on"}  # the phone's answers are ready before the first call
    with running_server(tmp_path_factory.mktemp("voice-var"), API_TOKEN, extra) as running:
        yield running


@pytest.fixture(scope="module")
def speech(voice_server: RunningServer) -> SpeechService:
    """A speech service on the server's cache: the same text gives the server's file."""
    settings = Settings(var_dir=voice_server.var_dir, tts="openjtalk")
    return SpeechService(settings, voice_server.var_dir / "speech")


@dataclass
class TwiML:
    xml: str

    @property
    def root(self) -> ET.Element:
        return ET.fromstring(self.xml)

    @property
    def plays(self) -> List[str]:
        return [element.text or "" for element in self.root.iter("Play")]

    @property
    def gather(self) -> Optional[ET.Element]:
        return self.root.find("Gather")

    @property
    def dial(self) -> Optional[str]:
        element = self.root.find("Dial")
        return None if element is None else (element.text or "")

    @property
    def hangs_up(self) -> bool:
        return self.root.find("Hangup") is not None


@dataclass
class Caller:
    """One phone call to the city's Twilio number."""

    server: RunningServer
    number: str = field(default_factory=lambda: f"+8190{next(_numbers)}")
    call_sid: str = field(default_factory=lambda: "CA" + uuid.uuid4().hex)

    def form(self, **extra: str) -> Dict[str, str]:
        """Every parameter Twilio posts for this call (blank ones included), then `extra`."""
        base = call_fields(ACCOUNT_SID, self.call_sid, self.number, OUR_NUMBER, extra.get("CallStatus", "in-progress"))
        if "Digits" in extra or "SpeechResult" in extra:
            base = gather_fields(base, extra.get("Digits", ""), extra.get("SpeechResult", ""),
                                 extra.get("Confidence", ""))
        elif extra.get("CallStatus") in ("completed", "busy", "failed", "no-answer", "canceled"):
            base = status_fields(base, extra["CallStatus"], extra.get("CallDuration", "0"))
        return {**dict(base), **extra}

    def post(self, path: str, form: Dict[str, str], signature: Optional[str] = "sign") -> httpx.Response:
        if signature == "sign":
            signature = signature_of(AUTH_TOKEN, f"{PUBLIC_URL}{path}", list(form.items()))
        headers = {} if signature is None else {"X-Twilio-Signature": signature}
        return httpx.post(f"{self.server.base_url}{path}", data=form, headers=headers, timeout=120)

    def step(self, path: str, **extra: str) -> TwiML:
        reply = self.post(path, self.form(**extra))
        assert reply.status_code == 200, reply.text
        assert reply.headers["content-type"].startswith("text/xml")
        twiml = TwiML(reply.text)
        assert "<Say" not in twiml.xml  # our voice, never Twilio's
        return twiml

    def start(self) -> TwiML:
        return self.step("/webhooks/voice/webhook", CallStatus="ringing")

    def say(self, text: str, confidence: str = "0.92") -> TwiML:
        return self.step("/webhooks/voice/gather", SpeechResult=text, Confidence=confidence)

    def press(self, digits: str) -> TwiML:
        return self.step("/webhooks/voice/gather", Digits=digits)

    def silence(self) -> TwiML:
        return self.step("/webhooks/voice/gather")

    @property
    def sender(self) -> str:
        """The conversation id: `voice:` + a keyed hash of the calling number."""
        return "voice:" + VoiceInput(AUTH_TOKEN, PUBLIC_URL).user_of(self.number, self.call_sid)

    def bot_texts(self) -> List[str]:
        return [e.get("text") or "" for e in tracker(self.server, self.sender)["events"] if e["event"] == "bot"]

    def user_texts(self) -> List[str]:
        return [e.get("text") or "" for e in tracker(self.server, self.sender)["events"] if e["event"] == "user"]


def tracker(server: RunningServer, conversation_id: str) -> dict:
    reply = httpx.get(f"{server.base_url}/conversations/{conversation_id}/tracker",
                      params={"token": server.token}, timeout=60)
    reply.raise_for_status()
    return reply.json()


def url_of(speech: SpeechService, text: str) -> str:
    audio = asyncio.run(speech.synthesize(text, language="ja", phone=True))
    return PUBLIC_URL + speech.url_for(audio)


def prompt(key: str, **values: str) -> str:
    """What the phone itself says (intents/phrases.yml `phone_<key>`), in Japanese."""
    return CATALOG.phrase(f"phone_{key}", "ja", **values)


def handoff_row(server: RunningServer, conversation_id: str):
    database = sqlite3.connect(server.var_dir / "madoguchi.db")
    return database.execute("select state, section, channel, summary from handoffs where conversation_id = ?",
                            (conversation_id,)).fetchone()


def answer_parts(caller: Caller, since: int = 0) -> List[str]:
    """The parts the phone plays of the dialogue's replies (after the first `since` bot messages)."""
    return split_parts(caller.bot_texts()[since:])


def test_the_phone_server_pre_synthesizes_catalog_answers_and_serves_them(voice_server, speech):
    language, text = catalog_answers(CATALOG)[0]
    key = speech.key(speech.openjtalk, for_the_ear(text, language), language, False, True)
    expected = speech.cache_dir / f"{key}.wav"
    deadline = time.monotonic() + 300  # the first answer, spoken while the model loads or soon after
    while not expected.exists():
        assert time.monotonic() < deadline, "the server did not pre-synthesize the first catalog answer"
        time.sleep(0.5)
    assert "speech: pre-synthesizing" in voice_server.log_path.read_text()
    # The same request in another process finds the server's file (content-hash cache).
    audio = asyncio.run(speech.synthesize(text, language, phone=True))
    assert audio.path == expected and speech.stats["hits"] >= 1
    reply = httpx.get(voice_server.base_url + speech.url_for(audio), timeout=30)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "audio/wav"
    assert "immutable" in reply.headers["cache-control"]
    assert reply.content == expected.read_bytes() and reply.content[:4] == b"RIFF"


# --- signatures and switching the channel on --------------------------------------------------
@pytest.mark.parametrize("signature", [None, "", "wrong", "other-token", "tampered"])
def test_missing_or_wrong_signature_is_refused_and_nothing_happens(voice_server: RunningServer, signature):
    caller = Caller(voice_server)
    form = caller.form(SpeechResult="マイナンバーカードをなくしました", Confidence="0.9")
    path = "/webhooks/voice/gather"
    if signature == "other-token":
        signature = RequestValidator(AUTH_TOKEN[::-1]).compute_signature(f"{PUBLIC_URL}{path}", form)
    elif signature == "tampered":  # signed, then changed on the way
        signature = RequestValidator(AUTH_TOKEN).compute_signature(f"{PUBLIC_URL}{path}", form)
        form["SpeechResult"] = "人と話したい"
    reply = caller.post(path, form, signature)
    assert reply.status_code == 403
    assert "<Response" not in reply.text
    assert caller.user_texts() == []
    # Signed for another address (not MADOGUCHI_PUBLIC_URL): refused as well.
    elsewhere = RequestValidator(AUTH_TOKEN).compute_signature(f"http://127.0.0.1{path}", caller.form())
    assert caller.post(path, caller.form(), elsewhere).status_code == 403
    assert caller.post("/webhooks/voice/webhook", caller.form(), None).status_code == 403


def test_twilio_requests_with_every_documented_field_blank_ones_included_are_answered(voice_server, speech):
    """Twilio signs its blank fields too (FromCity=, CallerZip=, FinishedOnKey= …): they count."""
    caller = Caller(voice_server)
    start = caller.form(CallStatus="ringing")
    blank = {key for key, value in start.items() if value == ""}
    assert {"FromCity", "FromZip", "CallerZip", "ForwardedFrom", "CallerName"} <= blank
    assert caller.start().gather is not None
    keypad = caller.form(Digits="1")
    assert keypad["FinishedOnKey"] == "" and keypad["msg"] == "Gather End"
    assert caller.press("1").plays  # the main menu's 1: the My Number list
    assert caller.say("住民票の写しがほしい").plays
    completed = caller.post("/webhooks/voice/status", caller.form(CallStatus="completed", CallDuration="61"))
    assert completed.status_code == 204
    # One blank field dropped on the way changes the signed content: refused.
    form = caller.form(Digits="9")
    signature = signature_of(AUTH_TOKEN, f"{PUBLIC_URL}/webhooks/voice/gather", list(form.items()))
    del form["FromZip"]
    assert caller.post("/webhooks/voice/gather", form, signature).status_code == 403


def test_twilio_fields_keep_blanks_and_repeated_fields():
    fields = voice.TwilioFields.parse(b"From=%2B8190&FromCity=&FinishedOnKey=&Digits=1&Digits=2&Bare")
    assert fields == {"From": ["+8190"], "FromCity": [""], "FinishedOnKey": [""], "Digits": ["1", "2"],
                      "Bare": [""]}
    assert fields.getall("Digits") == ["1", "2"]
    assert fields.first_values()["Digits"] == "1"


def test_a_request_with_another_calls_sid_from_another_number_does_not_join_that_call(voice_server, speech):
    victim = Caller(voice_server)
    victim.start()
    answer = victim.say("マイナンバーカードをなくしました")
    intruder = Caller(voice_server, call_sid=victim.call_sid)  # signed, the same CallSid, another number
    heard = intruder.press("9")
    assert heard.plays != answer.plays  # not the victim's answer repeated
    assert heard.plays == [url_of(speech, prompt("nothing_yet")), url_of(speech, prompt("menu"))]
    intruder.say("人と話したい")
    assert "人と話したい" not in victim.user_texts()  # nothing written into the victim's conversation
    assert intruder.sender != victim.sender
    # The victim's own call goes on where it was.
    assert victim.press("9").plays == answer.plays


def test_the_channel_is_off_without_the_auth_token(server):
    reply = httpx.post(f"{server.base_url}/webhooks/voice/webhook", data={"CallSid": "CA1", "From": "+81900"},
                       timeout=60)
    assert reply.status_code == 404


# --- whole calls ------------------------------------------------------------------------------------
def test_lost_card_call_hears_the_number_digit_by_digit_repeats_and_transfers(voice_server, speech):
    caller = Caller(voice_server)
    greeting = caller.start()
    gather = greeting.gather
    assert gather is not None and gather.get("input") == "speech dtmf" and gather.get("language") == "ja-JP"
    assert gather.get("action") == f"{PUBLIC_URL}/webhooks/voice/gather"
    assert CATALOG.procedures["mynumber_lost"].title.ja in (gather.get("hints") or "")
    assert greeting.plays and all(url.startswith(f"{PUBLIC_URL}/audio/") for url in greeting.plays)
    assert url_of(speech, prompt("menu")) in greeting.plays

    answer = caller.say("マイナンバーカードをなくしました")
    parts = answer_parts(caller)
    assert "0120-95-0178" in parts[0]
    assert "ゼロイチニーゼロ" in for_the_ear(parts[0], "ja").replace("、", "").replace("・", "")
    assert answer.plays[0] == url_of(speech, parts[0])
    audio = httpx.get(voice_server.base_url + answer.plays[0][len(PUBLIC_URL):], timeout=60)
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
    # The caller's words are in the conversation; the number is not its id.
    assert caller.user_texts() == ["マイナンバーカードをなくしました"]
    assert caller.number[1:] not in caller.sender

    assert caller.press("9").plays == answer.plays  # 9 repeats the answer, word for word
    assert caller.say("もう一度お願いします").plays == answer.plays

    assert len(parts) > 1  # a long answer: 続きは1を押してください
    assert answer.plays[1] == url_of(speech, prompt("more"))  # then the SMS offer (press 2)
    assert caller.press("1").plays[0] == url_of(speech, parts[1])

    transfer = caller.press("0")  # 市民課 is open on the test Saturday morning
    assert transfer.dial == "+81120000111"
    assert transfer.gather is None and transfer.plays
    state, section, channel, summary = handoff_row(voice_server, caller.sender)
    assert (state, section, channel) == ("queued", "shimin", "voice")
    assert "マイナンバーカードをなくしました" in summary and "mynumber_lost" in summary


def test_slower_speech_is_remembered_for_the_call(voice_server, speech):
    caller = Caller(voice_server)
    caller.start()
    normal = caller.say("住民票の写しがほしい")
    slow = caller.press("#")
    assert slow.plays[0] != normal.plays[0]  # 「ゆっくり話します」, then the answer again, slower
    assert slow.plays[1:] and slow.plays[1] not in normal.plays
    again = caller.press("9")
    assert again.plays == slow.plays[1:]
    assert caller.press("#").plays[1:] == normal.plays  # back to the normal pace


def test_keypad_only_call(voice_server, speech):
    caller = Caller(voice_server)
    caller.start()
    submenu = caller.press("1")  # マイナンバーカード → which procedure?
    assert len(submenu.plays) == 1
    assert caller.user_texts() == []  # choosing in the menu is not a message yet
    answer = caller.press("1")  # the first item: the lost card
    assert caller.user_texts() == ["/mynumber_lost"]
    assert "0120-95-0178" in answer_parts(caller)[0]
    assert answer.plays[0] == url_of(speech, answer_parts(caller)[0])
    caller.press("*")  # back to the menu
    moving = caller.press("3")  # 引っ越し: one checklist, no submenu
    assert caller.user_texts()[-1] == "/life_event_moving"
    assert moving.plays and "転出" in "".join(caller.bot_texts())


def test_silence_asks_again_then_offers_the_keypad_then_staff(voice_server, speech):
    caller = Caller(voice_server)
    caller.start()
    first = caller.silence()
    assert first.plays == [url_of(speech, prompt("ask_again"))] and first.gather is not None
    unclear = caller.say("えー", confidence="0.05")  # heard, but not clearly: counts as not heard
    assert unclear.plays == [url_of(speech, prompt("menu"))] and unclear.gather is not None
    assert caller.user_texts() == []
    staff = caller.silence()  # still nothing: a person takes over (市民課 is open)
    assert staff.dial == "+81120000111"
    assert caller.user_texts() == ["/request_human"]
    assert handoff_row(voice_server, caller.sender)[0] == "queued"


def test_after_hours_the_caller_is_called_back_with_consent(voice_server, speech):
    caller = Caller(voice_server)
    caller.start()
    caller.say("児童手当の申請をしたい")  # こども家庭課: closed on the test Saturday
    offer = caller.press("0")
    assert offer.dial is None and offer.gather is not None
    assert offer.plays[-1] == url_of(speech, prompt("callback_offer"))
    assert handoff_row(voice_server, caller.sender) is None  # nothing is stored before consent
    done = caller.press("1")
    assert done.hangs_up and done.plays[-1] == url_of(speech, prompt("goodbye"))
    assert any("承りました" in text for text in caller.bot_texts())
    state, section, channel, _ = handoff_row(voice_server, caller.sender)
    assert (state, section, channel) == ("callback_requested", "kodomo", "voice")
    # The number is only in the access-controlled call-back table, never in the conversation.
    national = "0" + caller.number[3:]
    events = str(tracker(voice_server, caller.sender)["events"])
    assert national not in events and caller.number not in events and caller.number[3:] not in events
    log = voice_server.log_path.read_text()
    assert national not in log and caller.number[3:] not in log


def test_declining_the_call_back_stores_nothing(voice_server, speech):
    caller = Caller(voice_server)
    caller.start()
    caller.say("児童手当の申請をしたい")
    caller.press("0")
    declined = caller.press("2")
    assert declined.plays[0] == url_of(speech, prompt("callback_declined")) and declined.gather is not None
    assert handoff_row(voice_server, caller.sender) is None


def test_press_2_sends_the_documents_by_sms(voice_server, twilio_api: FakeTwilioApi, speech):
    caller = Caller(voice_server)
    caller.start()
    answer = caller.say("マイナンバーカードをなくしました")
    assert url_of(speech, prompt("sms_offer")) in answer.plays
    before = len(twilio_api.messages)
    sent = caller.press("2")
    assert sent.plays[0] == url_of(speech, prompt("sms_sent"))
    messages = twilio_api.messages[before:]
    assert len(messages) == 1
    assert messages[0]["To"] == caller.number and messages[0]["From"] == SMS_FROM
    assert all(item in messages[0]["Body"] for item in CATALOG.procedures["mynumber_lost"].documents.ja)


def test_an_faq_answer_is_read_without_its_web_address_and_the_page_offered_by_sms(voice_server, twilio_api, speech):
    entry = CATALOG.faq["garbage_bulky"]
    caller = Caller(voice_server)
    caller.start()
    answer = caller.say(entry.question["ja"])
    stored = caller.bot_texts()
    assert stored[0].startswith(entry.answer["ja"]) and entry.url in stored[0]  # the transcript keeps the source
    spoken = split_parts([voice.for_the_phone({"text": t, "custom": {"link": {"url": entry.url}}}) for t in stored])
    assert not any("http" in part for part in spoken)  # no web address read aloud
    assert answer.plays[0] == url_of(speech, spoken[0])  # the city's own text, first
    assert url_of(speech, prompt("faq_sms_offer")) in answer.plays
    before = len(twilio_api.messages)
    sent = caller.press("2")
    assert sent.plays[0] == url_of(speech, prompt("sms_sent"))
    (message,) = twilio_api.messages[before:]
    assert entry.url in message["Body"] and message["To"] == caller.number


def test_a_caller_who_calls_again_continues_the_conversation(voice_server):
    caller = Caller(voice_server)
    caller.start()
    caller.say("住民票の写しがほしい")
    again = Caller(voice_server, number=caller.number)  # a new call from the same phone
    assert again.sender == caller.sender
    again.start()
    again.press("9")  # repeats nothing new: the phone's own memory is per call
    again.say("手数料はいくらですか")
    assert caller.user_texts() == ["住民票の写しがほしい", "手数料はいくらですか"]


def test_phone_conversations_show_as_denwa_in_the_staff_console(voice_server):
    suffix = uuid.uuid4().hex[:6]
    add_account(voice_server, f"voice{suffix}", "staff", "佐藤", section="shimin")
    clerk = login(voice_server, f"voice{suffix}")
    caller = Caller(voice_server)
    caller.start()
    caller.say("マイナンバーカードをなくしました")
    caller.press("0")
    entry = next(e for e in clerk.get("/queue").json()["queue"] if e["conversation_id"] == caller.sender)
    assert entry["channel"] == "voice" and entry["section"] == "shimin"
    script = httpx.get(f"{voice_server.base_url}/staff/static/staff.js", timeout=60).text
    assert 'voice: "電話"' in script and "音声認識" in script
    # The transcript: what the recognizer heard (and how sure it was), what the keys chose, what was said.
    lines = clerk.get(f"/conversations/{quote(caller.sender, safe='')}").json()["transcript"]
    resident = [line for line in lines if line["from"] == "resident"]
    assert resident[0]["text"] == "マイナンバーカードをなくしました" and resident[0]["heard"] == {"confidence": 0.92}
    assert resident[1]["text"] == "キー0：職員と話す" and "heard" not in resident[1]
    assert any("0120-95-0178" in (line["text"] or "") for line in lines if line["from"] == "bot")


def test_a_visit_slip_made_on_the_web_continues_on_the_phone(voice_server, speech):
    resident = f"slip-{uuid.uuid4().hex[:8]}"
    for text in ("転入届を出したい", "/visit_slip"):
        reply = httpx.post(f"{voice_server.base_url}/webhooks/rest/webhook",
                           json={"sender": resident, "message": text}, timeout=60)
        reply.raise_for_status()
    number = next(m for m in re.findall(r"\d{6}", "\n".join(m.get("text") or "" for m in reply.json())))
    caller = Caller(voice_server)
    caller.start()
    asked = caller.press("8")
    assert asked.plays == [url_of(speech, prompt("slip_ask"))]
    gather = asked.gather
    assert gather is not None and gather.get("numDigits") == "6"
    answer = caller.press(number)
    title = CATALOG.procedures["moving_in"].title.ja
    preface = prompt("slip_continue", title=title)
    assert answer.plays[0] == url_of(speech, split_parts([preface] + caller.bot_texts())[0])
    spoken = "".join(split_parts([preface] + caller.bot_texts()))
    assert spoken.startswith(preface)
    assert all(item in "\n".join(caller.bot_texts()) for item in CATALOG.procedures["moving_in"].documents.ja)
    event = [e for e in tracker(voice_server, caller.sender)["events"] if e["event"] == "user"][-1]
    assert event["metadata"]["slip"] == number  # staff see which slip the call continued
    # A number that is no slip: said so, and back to the menu (no guessing game: 3 tries per call).
    wrong = "000000" if number != "000000" else "000001"
    caller.press("8")
    missing = caller.press(wrong)
    assert missing.plays[0] == url_of(speech, prompt("slip_not_found"))
    # Said instead of keyed: 「来庁票の番号は…」
    said = Caller(voice_server)
    said.start()
    said.say(f"来庁票の番号は{' '.join(number)}です")
    assert said.user_texts() == ['/ask_documents{"procedure":"moving_in"}']


def test_a_finished_call_is_forgotten(voice_server, speech):
    caller = Caller(voice_server)
    caller.start()
    answer = caller.say("住民票の写しがほしい")
    assert caller.press("9").plays == answer.plays
    status = caller.post("/webhooks/voice/status", caller.form(CallStatus="completed", CallDuration="42"))
    assert status.status_code == 204
    assert caller.post("/webhooks/voice/status", caller.form(CallStatus="completed"), "wrong").status_code == 403
    # The same CallSid again (it never is, in real life): the call's memory is gone.
    assert caller.press("9").plays == [url_of(speech, prompt("nothing_yet")), url_of(speech, prompt("menu"))]


def test_a_my_number_said_on_the_phone_is_redacted(voice_server, speech):
    caller = Caller(voice_server)
    caller.start()
    first_eleven = "12345678901"
    my_number = first_eleven + str(my_number_check_digit(first_eleven))
    answer = caller.say(f"マイナンバーは{my_number[:4]} {my_number[4:8]} {my_number[8:]}です", confidence="0.81")
    warning = CATALOG.phrases["redacted_my_number"].ja
    assert any(warning in text for text in caller.bot_texts())
    assert url_of(speech, split_parts(caller.bot_texts())[0]) == answer.plays[0]
    stored = [e for e in tracker(voice_server, caller.sender)["events"] if e["event"] == "user"]
    assert "[個人番号]" in stored[-1]["text"] and my_number[:4] not in stored[-1]["text"]
    assert stored[-1]["metadata"]["redacted"] == ["my_number"]
    assert stored[-1]["metadata"]["input"] == "speech" and stored[-1]["metadata"]["confidence"] == 0.81


def web_slip(server: RunningServer) -> str:
    """A visit slip made on the web (REST): its six-digit number."""
    resident = f"slip-{uuid.uuid4().hex[:8]}"
    for text in ("転入届を出したい", "/visit_slip"):
        reply = httpx.post(f"{server.base_url}/webhooks/rest/webhook",
                           json={"sender": resident, "message": text}, timeout=60)
        reply.raise_for_status()
    return re.findall(r"\d{6}", "\n".join(m.get("text") or "" for m in reply.json()))[0]


def test_wrong_slip_numbers_are_limited_per_caller_across_calls(voice_server, speech):
    number = web_slip(voice_server)
    phone = f"+8180{next(_numbers)}"
    wrong = [f"{n:06d}" for n in range(900_001, 900_007) if f"{n:06d}" != number]
    first = Caller(voice_server, number=phone)
    first.start()
    for slip in wrong[:3]:
        first.press("8")
        assert first.press(slip).plays[0] == url_of(speech, prompt("slip_not_found"))
    second = Caller(voice_server, number=phone)  # hanging up and calling again does not reset the count
    second.start()
    for slip in wrong[3:5]:
        second.press("8")
        assert second.press(slip).plays[0] == url_of(speech, prompt("slip_not_found"))
    second.press("8")
    refused = second.press(number)  # five wrong numbers this hour: even a real slip goes to staff now
    assert refused.plays[0] == url_of(speech, prompt("slip_limit"))
    assert refused.dial == "+81120000111"  # 市民課 is open: a person takes over
    assert second.user_texts()[-1] == "/request_human"
    assert '/ask_documents{"procedure":"moving_in"}' not in second.user_texts()
    other = Caller(voice_server)  # another phone is not affected
    other.start()
    other.press("8")
    other.press(number)
    assert other.user_texts() == ['/ask_documents{"procedure":"moving_in"}']


def test_a_clerk_reply_is_heard_on_the_line_then_texted_after_the_call(voice_server, twilio_api, speech):
    suffix = uuid.uuid4().hex[:6]
    add_account(voice_server, f"phone{suffix}", "staff", "鈴木", section="shimin")
    clerk = login(voice_server, f"phone{suffix}")
    caller = Caller(voice_server)
    caller.start()
    caller.say("住民票の写しがほしい")
    caller.press("2")  # the checklist by SMS: the caller agrees to text messages (the offer says so)
    path = f"/conversations/{quote(caller.sender, safe='')}"
    assert clerk.post(f"{path}/pull").status_code == 200
    reply = clerk.post(f"{path}/messages", {"text": "本日は12時まで市民課の窓口で受け付けています。"})
    assert reply.json()["delivered"] is True  # waiting for the caller's next turn
    joined, words = caller.bot_texts()[-2:]
    assert "鈴木" in joined and words == "本日は12時まで市民課の窓口で受け付けています。"
    heard = caller.silence()
    assert heard.plays == [url_of(speech, text) for text in (prompt("staff_notice"), joined, words,
                                                              prompt("ask_again"))]
    assert caller.silence().plays == [url_of(speech, prompt("menu"))]  # played once, not again
    # Said while the caller was on the line, but the caller hung up before the next turn: by SMS.
    sms_before = len(twilio_api.messages)
    clerk.post(f"{path}/messages", {"text": "書類は郵送でも請求できます。"})
    assert caller.post("/webhooks/voice/status", caller.form(CallStatus="completed")).status_code == 204
    later = clerk.post(f"{path}/messages", {"text": "ほかにご不明な点があればお電話ください。"})
    assert later.json()["delivered"] is True
    texted = twilio_api.messages[sms_before:]
    assert [(m["To"], m["Body"]) for m in texted] == [(caller.number, "書類は郵送でも請求できます。"),
                                                      (caller.number, "ほかにご不明な点があればお電話ください。")]


def test_without_sms_consent_a_reply_after_the_call_stays_in_the_transcript(voice_server, twilio_api):
    suffix = uuid.uuid4().hex[:6]
    add_account(voice_server, f"phone{suffix}", "staff", "高橋", section="shimin")
    clerk = login(voice_server, f"phone{suffix}")
    caller = Caller(voice_server)
    caller.start()
    caller.say("住民票の写しがほしい")
    path = f"/conversations/{quote(caller.sender, safe='')}"
    assert clerk.post(f"{path}/pull").status_code == 200
    caller.post("/webhooks/voice/status", caller.form(CallStatus="completed"))
    sms_before = len(twilio_api.messages)
    reply = clerk.post(f"{path}/messages", {"text": "折り返しお電話します。"})
    assert reply.json()["delivered"] is False
    assert twilio_api.messages[sms_before:] == []
    assert caller.bot_texts()[-1] == "折り返しお電話します。"  # for the clerk who calls back


def test_without_an_english_voice_the_phone_stays_japanese(voice_server, speech):
    caller = Caller(voice_server)  # Open JTalk only: it reads English badly
    greeting = caller.start()
    assert len(greeting.plays) == 2  # the greeting and the menu, no 「For English, press 7」
    for choice in (lambda: caller.press("7"), lambda: caller.say("英語でお願いします")):
        turn = choice()
        assert turn.plays == [url_of(speech, prompt("menu"))]
        assert turn.gather is not None and turn.gather.get("language") == "ja-JP"
    assert caller.user_texts() == []


@pytest.fixture(scope="module")
def google():
    fake = FakeGoogleTts().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def english_server(trained_model, google: FakeGoogleTts, tmp_path_factory) -> RunningServer:
    """A phone line whose speech service has gTTS (a local fake of Google's endpoint)."""
    extra = {"MADOGUCHI_FAKE_NOW": FAKE_NOW, "MADOGUCHI_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
             "MADOGUCHI_PUBLIC_URL": PUBLIC_URL, "MADOGUCHI_TTS": "auto", "MADOGUCHI_GTTS_URL": google.url}
    with running_server(tmp_path_factory.mktemp("voice-en-var"), API_TOKEN, extra) as running:
        yield running


def test_press_7_for_english_with_an_english_voice(english_server, google: FakeGoogleTts):
    caller = Caller(english_server)
    greeting = caller.start()
    assert len(greeting.plays) == 3
    assert ("For English, press 7.", "en") in [(r.text, r.lang) for r in google.requests]
    switched = caller.press("7")
    assert switched.gather is not None and switched.gather.get("language") == "en-US"
    assert caller.user_texts() == ['/change_language{"language":"en"}']
    assert CATALOG.phrases["language_switched"].en in caller.bot_texts()[-1]
    before, said_before = len(google.requests), len(caller.bot_texts())
    caller.say("I lost my My Number card")
    answer = "\n".join(caller.bot_texts()[said_before:])
    assert "0120-95-0178" in answer and not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", answer)
    parts = split_parts(caller.bot_texts()[said_before:])
    for _ in range(next(index for index, part in enumerate(parts) if "0120-95-0178" in part)):
        caller.press("1")  # 「For the rest, press 1」 up to the part with the number
    spoken = google.requests[before:]
    assert spoken and all(r.lang == "en" for r in spoken)  # the answer and the English prompts
    assert any("zero one two zero" in r.text for r in spoken)  # the number, digit by digit, in English
    # Test servers skip pre-synthesis (tests/conftest.py) unless they ask for it, as the phone's does.
    assert "speech: pre-synthesizing" not in english_server.log_path.read_text()
    back = caller.press("7")
    assert back.gather is not None and back.gather.get("language") == "ja-JP"
    assert caller.user_texts()[-1] == '/change_language{"language":"ja"}'


# --- the phone's own sentences are catalog data -----------------------------------------------------
def prompt_keys_used_by_the_channel() -> set:
    """Every key the voice channel passes to prompt()/prompts() (string constants in the calls)."""
    tree = ast.parse(open(voice.__file__, encoding="utf-8").read())
    keys = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("prompt", "prompts"):
            for argument in node.args[2:]:
                keys |= {c.value for c in ast.walk(argument)
                         if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    return keys


def test_every_phone_prompt_is_in_the_catalog_in_three_languages():
    used = {f"phone_{key}" for key in prompt_keys_used_by_the_channel()}
    used |= {title for title, _ in voice.MENU_GROUPS.values()}
    assert {"phone_greeting", "phone_menu", "phone_staff_notice", "phone_slip_limit"} <= used
    # "sms_sent"/"sms_failed" reach prompts() through a variable: listed, and checked below.
    assert used | {"phone_sms_sent", "phone_sms_failed"} == set(PHONE_PROMPTS)
    for key in PHONE_PROMPTS:
        for language in ("ja", "en", "easy"):
            assert CATALOG.phrase(key, language).strip(), (key, language)


def test_a_catalog_without_a_phone_prompt_does_not_load(tmp_path):
    target = tmp_path / "intents"
    shutil.copytree(PROJECT_ROOT / "intents", target)
    phrases = target / "phrases.yml"
    text = phrases.read_text(encoding="utf-8")
    phrases.write_text(text.replace("  phone_staff_notice:", "  phone_staff_notice_old:"), encoding="utf-8")
    with pytest.raises(CatalogError) as missing:
        load_catalog(target)
    assert [(p.field, p.message) for p in missing.value.problems] == [
        ("phrases.phone_staff_notice", "the phone line needs this phrase")]
    phrases.write_text(text.replace("en: For the rest, press 1.", "fr: Pour la suite, tapez 1.")
                       .replace('en: "For the rest, press 1.",', 'fr: "Pour la suite, tapez 1.",'), encoding="utf-8")
    with pytest.raises(CatalogError) as incomplete:
        load_catalog(target)
    assert any(p.field == "phrases.phone_more.en" for p in incomplete.value.problems)
