"""The phone channel (`/webhooks/voice/webhook`): a Twilio voice number, spoken and keyed.

Twilio posts a call's events as `application/x-www-form-urlencoded` forms (CallSid, From,
SpeechResult, Confidence, Digits, …) and does what the TwiML we answer says. Every request
carries `X-Twilio-Signature`, an HMAC of our public URL and the form made with the account's
auth token; `twilio.request_validator.RequestValidator` checks it against
MADOGUCHI_PUBLIC_URL + the path, and a request without a valid one gets 403 before anything
is read. Every answer is `<Play>`ed from our own speech service (app.ctx.speech: slow, clear
Japanese that reads phone numbers digit by digit), never Twilio's `<Say>` voice.

One call:
- the greeting, then `<Gather input="speech dtmf" language="ja-JP">` with hints from the
  catalog's procedure titles; what the resident says (or the item a key chooses) goes through
  the handoff gate and Rasa like any channel's message, and the reply is played back;
- a keypad menu for people who do not want to talk to a machine (1 マイナンバーカード,
  2 証明書, 3 引っ越し, 4 出生・おくやみ, 0 職員); 9 or 「もう一度」 repeats; # toggles slower
  speech for the rest of the call; long answers are played in parts (「続きは1を押してください」);
- 0 or 「人と話したい」: when the section's counter is open the dialogue queues the
  conversation (with its summary) and the call is `<Dial>`ed to the counter's phone; when it is
  closed the caller may press 1 to be called back on the calling number, which becomes a
  call-back request in the owning section's queue;
- silence or a low-confidence recognition: asked once more, then the keypad menu, then staff;
  never a loop;
- 8, then a visit slip's six digits (or 「来庁票の番号は…」): the slip's procedure and its
  checklist, 「先ほどの…のご案内の続きですね」; the slip number goes with the message for staff.
  Five wrong numbers an hour per caller (across calls), then staff take over;
- press 2 (or 「ショートメールで送って」) after an answer: the checklist of documents by SMS
  through the Twilio Messages API, when MADOGUCHI_TWILIO_ACCOUNT_SID and MADOGUCHI_TWILIO_FROM
  are set (the offer says that staff messages may come the same way: that is the consent);
- 7 (or 「English」): English prompts, answers and recognition, when the speech service has
  an English voice (gTTS); with Open JTalk alone the phone stays Japanese;
- a clerk's reply (staff console) while the caller is on the line is played before the next
  question, after 「職員からのお知らせです」 (`push`, bot/delivery.py); after the call it goes
  by SMS to a caller who agreed to text messages, else it waits in the transcript.

What the phone itself says is catalog data: the `phone_*` phrases of intents/phrases.yml in
ja/en/easy (the catalog check requires every one, bot/catalog/model.py PHONE_PROMPTS).

The conversation id is `voice:` + an HMAC (keyed with the auth token) of the calling number,
so a resident who calls again continues their conversation and the number itself is never an
id, a log line or a stored event; it is kept for the call (for the call-back and the SMS) and
forgotten when the call ends, unless the caller agreed to text messages: then it is kept for a
day for a clerk's reply. "Kept" is in memory, or with several replicas in Redis, encrypted and
expiring (channels/voice_state.py).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, Text, Tuple
from urllib.parse import parse_qsl

from rasa.core.channels.channel import UserMessage
from redis.exceptions import RedisError
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Gather, VoiceResponse

from bot.catalog.model import Catalog
from bot.handoff.machine import QUEUED
from bot.handoff.slips import NUMBER_DIGITS, Slips
from bot.text import DEFAULT_MAX_CHARS
from channels.base import AnnotatedCollectingOutputChannel, Channel, OnNewMessage, health_route
from channels.inbound import InboundError
from channels.voice_state import Call, LocalCalls, live_calls

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
LANGUAGE = "ja-JP"
ENGLISH = "en-US"  # the recognizer's language once a caller chose English (7)
# Below this recognizer confidence an utterance is asked again rather than guessed at.
MIN_CONFIDENCE = 0.3
# Seconds Twilio waits for the first sound or key before posting an empty result.
GATHER_TIMEOUT = 6
# A part of a long answer: about 10–15 seconds at an elderly pace.
PART_CHARS = 90
SMS_TIMEOUT_SECONDS = 10.0
SLIP_DIGITS = NUMBER_DIGITS

# The keypad menu: a key picks a payload the dialogue understands, or a list of procedures
# (their titles come from the catalog). Ids missing from the catalog are left out.
MENU_GROUPS: Dict[str, Tuple[str, Tuple[str, ...]]] = {
    "1": ("phone_menu_mynumber", ("mynumber_lost", "mynumber_apply", "mynumber_pickup", "mynumber_pin",
                                  "mynumber_card_renewal", "mynumber_cert_renewal", "mynumber_health_insurance")),
    "2": ("phone_menu_certificates", ("residence_certificate", "family_register", "seal_registration",
                                      "tax_certificate", "convenience_store_certificates")),
    "3": ("phone_menu_moving", ("life_event_moving",)),
    "4": ("phone_menu_birth_death", ("life_event_birth", "life_event_bereavement")),
}
# How keyed choices show in the staff transcript (a key press is stored as its payload).
TITLES = {"staff": "キー0：職員と話す", "silence": "（無言が続いたため職員へ）",
          "callback": "キー1：折り返し電話に同意", "sms": "キー2：持ち物をショートメールで",
          "slip_limit": "（来庁票の番号違いが続いたため職員へ）", "language_en": "キー7：英語で",
          "language_ja": "キー7：日本語で"}
STAFF_PAYLOAD = "/request_human"
DOCUMENTS_PAYLOAD = "/ask_documents"
CALLBACK_CONSENT_PAYLOAD = "/callback_consent"
CALLBACK_OFFER_PAYLOAD = "/callback_request"  # the dialogue's after-hours reply offers this button
LANGUAGE_PAYLOAD = "/change_language"

REPEAT_WORDS = re.compile(r"もう一度|もういちど|もう1度|もっかい|繰り返|くりかえ|聞こえな|きこえな")
SLOW_WORDS = re.compile(r"ゆっくり")
SMS_WORDS = re.compile(r"ショートメール|ショートメッセージ|SMS|メッセージで送|メールで送", re.I)
SLIP_WORDS = re.compile(r"来庁票|らいちょうひょう")
MENU_WORDS = re.compile(r"メニュー|番号で選")
# A short answer naming a language (「English」, 「日本語で」): the phone switches to it.
LANGUAGE_WORDS = (("en", re.compile(r"english|英語|えいご", re.I)),
                  ("ja", re.compile(r"japanese|日本語|にほんご", re.I)))
HINT_WORDS = ("もう一度", "人と話したい", "ショートメールで送って", "ゆっくり", "マイナンバーカード", "引っ越し",
              "住民票", "おくやみ")
HINT_WORDS_EN = "repeat,talk to a person,text message,slowly,My Number card,moving,certificate,Japanese"
ANONYMOUS_CALLERS = ("", "anonymous", "restricted", "unknown", "+266696687", "+86282452253", "+7378742833")


@dataclass
class Turn:
    """What the dialogue said to one message, and what the phone does next."""

    texts: List[str]
    language: str = "ja"
    offers_callback: bool = False
    dial: Optional[str] = None  # the counter's phone number, when the call is transferred
    link: Optional[Dict[str, str]] = None  # the FAQ page an answer quoted (read, then offered by SMS)
    section: Optional[str] = None  # the section an answer routed to (then offered as a transfer)


class VoiceInput(Channel):
    """Twilio Programmable Voice on the channel contract (a request/response channel)."""

    @classmethod
    def name(cls) -> Text:
        return "voice"

    def __init__(self, auth_token: str, public_url: str, account_sid: str = "", sms_from: str = "",
                 api_url: str = "", max_chars: int = DEFAULT_MAX_CHARS, calls: Any = None) -> None:
        super().__init__(max_chars)
        if not public_url:
            logger.error("MADOGUCHI_PUBLIC_URL is not set: Twilio signatures cannot be checked and every "
                         "voice webhook call will be refused (403).")
        self.auth_token = auth_token
        self.public_url = public_url.rstrip("/")
        self.validator = RequestValidator(auth_token)
        self.account_sid = account_sid
        self.sms_from = sms_from
        self.api_url = api_url.rstrip("/")
        self.calls = calls or LocalCalls()  # channels/voice_state.py: in Redis when replicas share calls
        self._sms_client: Any = None

    @classmethod
    def from_settings(cls, settings: Any) -> "VoiceInput":
        from bot.pubsub import topic_prefix

        calls = live_calls(settings.redis_url, topic_prefix(settings.tracker_database_url), settings.twilio_auth_token)
        return cls(settings.twilio_auth_token, settings.public_url, settings.twilio_account_sid,
                   settings.twilio_from, settings.twilio_api_url, settings.max_message_chars, calls)

    # --- identities and signatures ----------------------------------------------------------
    def user_of(self, caller: str, call_sid: str) -> str:
        """A keyed hash of the calling number (of the call itself when the number is withheld)."""
        known = caller.strip().lower() not in ANONYMOUS_CALLERS
        subject = f"tel:{caller.strip()}" if known else f"call:{call_sid}"
        return hmac.new(self.auth_token.encode("utf-8"), subject.encode("utf-8"), hashlib.sha256).hexdigest()[:40]

    def verified(self, request: Request, fields: "TwilioFields") -> bool:
        signature = request.headers.get(SIGNATURE_HEADER)
        if not (self.auth_token and self.public_url and signature):
            return False
        url = self.public_url + request.path + (f"?{request.query_string}" if request.query_string else "")
        try:
            return bool(self.validator.validate(url, fields, signature))
        except Exception:  # a malformed signature or form never gets past this check
            return False

    def url(self, path: str) -> str:
        return f"{self.public_url}/webhooks/{self.name()}{path}"

    def call_key(self, form: Dict[str, str]) -> str:
        """Where a call's state is kept: its CallSid *and* its caller, so a request carrying another
        call's CallSid from another number starts a call of its own instead of joining that one."""
        sid = form.get("CallSid") or ""
        return f"{sid}:{self.user_of(form.get('From') or '', sid)[:16]}"

    async def call_for(self, form: Dict[str, str]) -> Call:
        sid = form.get("CallSid") or ""
        caller = form.get("From") or ""
        return await self.calls.open(self.call_key(form),
                                     lambda: Call(self.sender_for(self.user_of(caller, sid)), caller))

    # --- the blueprint ------------------------------------------------------------------------
    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = Blueprint("madoguchi_voice_webhook", __name__)
        health_route(webhook)

        def signed(handler: Callable[[Request, Dict[str, str]], Awaitable[HTTPResponse]],
                   ) -> Callable[[Request], Awaitable[HTTPResponse]]:
            """Twilio's form, only when X-Twilio-Signature matches; 403 and nothing processed otherwise."""
            async def checked(request: Request) -> HTTPResponse:
                try:  # Sanic would log a traceback for a form that is not UTF-8 (Twilio always sends UTF-8)
                    fields = TwilioFields.parse(request.body or b"")
                except UnicodeDecodeError:
                    return response.json({"error": "malformed_form", "message": "The form is not UTF-8."}, status=400)
                form = fields.first_values()
                if not self.verified(request, fields):
                    return response.json({"error": "forbidden", "message": "Missing or wrong X-Twilio-Signature."},
                                         status=403)
                try:
                    return await handler(request, form)
                except RedisError:  # replicas share calls in Redis: without it, no call can go on
                    logger.warning("voice channel: the shared call store (Redis) is unreachable")
                    return await self.store_unreachable(request, form)

            checked.__name__ = handler.__name__  # Sanic names routes after their handlers
            return checked

        @webhook.route("/webhook", methods=["POST"])
        @signed
        async def incoming_call(request: Request, form: Dict[str, str]) -> HTTPResponse:
            call = await self.call_for(form)
            try:
                catalog = await request.app.ctx.catalogs.current()
                call.stage, call.misses = "main", 0
                greeting = prompt(catalog, call, "greeting", city=catalog.city.name.get(call.language))
                return await self.gather(request, call, [greeting] + self.menu(request, catalog, call), catalog)
            finally:  # the next webhook of this call may land on another replica
                await self.calls.save(self.call_key(form), call)

        @webhook.route("/gather", methods=["POST"])
        @signed
        async def gathered(request: Request, form: Dict[str, str]) -> HTTPResponse:
            call = await self.call_for(form)
            try:
                return await self.answer(request, call, form, on_new_message)
            finally:
                await self.calls.save(self.call_key(form), call)

        @webhook.route("/status", methods=["POST"])
        @signed
        async def call_status(request: Request, form: Dict[str, str]) -> HTTPResponse:
            """Twilio's status callback: a finished call's state (and the caller's number) is dropped."""
            if form.get("CallStatus") in ("completed", "busy", "failed", "no-answer", "canceled"):
                call = await self.calls.end(self.call_key(form))
                if call is not None:
                    await self.call_ended(call)
            return response.empty()

        return webhook

    # --- one step of a call --------------------------------------------------------------------
    async def answer(self, request: Request, call: Call, form: Dict[str, str],
                     on_new_message: OnNewMessage) -> HTTPResponse:
        catalog: Catalog = await request.app.ctx.catalogs.current()
        digits = (form.get("Digits") or "").strip()
        speech = (form.get("SpeechResult") or "").strip()
        confidence = confidence_of(form.get("Confidence"))
        if not digits and (not speech or (confidence is not None and confidence < MIN_CONFIDENCE)):
            return await self.silence(request, call, catalog, on_new_message)
        call.misses = 0
        key = digits[:1]

        if call.stage == "callback":
            if key == "1" or (speech and re.search(r"はい|お願い|おねがい", speech)):
                return await self.callback(request, call, catalog, on_new_message)
            if key == "2" or (speech and re.search(r"いいえ|いらない|やめ", speech)):
                call.stage = "main"
                return await self.gather(request, call, prompts(catalog, call, "callback_declined", "next"), catalog)
        # First, as a slip number may start with 9 (repeat) or 7 (language).
        slip_number = slip_number_in(digits, speech, call.stage == "slip")
        if slip_number:
            return await self.continue_slip(request, call, catalog, slip_number, on_new_message)
        if call.stage == "slip":
            call.stage = "main"
            return await self.gather(request, call, prompts(catalog, call, "slip_not_found")
                                     + self.menu(request, catalog, call), catalog)
        if key == "9" or (speech and REPEAT_WORDS.search(speech)):
            return await self.gather(request, call, call.last or (prompts(catalog, call, "nothing_yet")
                                                                  + self.menu(request, catalog, call)), catalog)
        if key == "#" or (speech and SLOW_WORDS.search(speech) and len(speech) <= 12):
            call.slow = not call.slow
            notice = prompt(catalog, call, "slow_on" if call.slow else "slow_off")
            return await self.gather(request, call, [notice] + (call.last or self.menu(request, catalog, call)),
                                     catalog)
        if key == "8" and not call.stage.startswith("menu:"):
            call.stage = "slip"
            return await self.gather(request, call, prompts(catalog, call, "slip_ask"), catalog, digits=SLIP_DIGITS)
        if key == "*" or (speech and MENU_WORDS.search(speech)):
            call.stage = "main"
            return await self.gather(request, call, self.menu(request, catalog, call), catalog)
        language = named_language(speech) if not key else ("ja" if call.language == "en" else "en")
        if language and (speech or (key == "7" and not call.stage.startswith("menu:"))):
            return await self.switch_language(request, call, catalog, language, on_new_message)
        if key == "0" and call.stage == "answer" and call.section_phone:
            return await self.transfer(request, call, catalog, [], call.section_phone)
        if key == "0":
            return await self.turn(request, call, catalog, STAFF_PAYLOAD, {"title": TITLES["staff"]}, on_new_message)
        if call.stage == "answer" and key == "1" and call.rest:
            part, call.rest = call.rest[0], call.rest[1:]
            call.last = [part] + prompts(catalog, call, "more" if call.rest else "next")
            return await self.gather(request, call, call.last, catalog)
        if (call.stage == "answer" and key == "2" and self.sms_enabled) or (speech and SMS_WORDS.search(speech)):
            return await self.send_documents(request, call, catalog, on_new_message)
        if call.stage.startswith("menu:") and key:
            group = MENU_GROUPS[call.stage[len("menu:"):]]
            items = menu_items(catalog, group[1], call.language)
            index = int(key) - 1 if key.isdigit() else -1
            if 0 <= index < len(items):
                intent, title = items[index]
                return await self.turn(request, call, catalog, f"/{intent}", {"title": f"キー{key}：{title}"},
                                       on_new_message)
            return await self.gather(request, call, [self.submenu(catalog, call, call.stage[len("menu:"):])], catalog)
        if key:
            # A group whose procedures this city's catalog does not have is not a menu (another city).
            if key in MENU_GROUPS and menu_items(catalog, MENU_GROUPS[key][1], call.language):
                items = menu_items(catalog, MENU_GROUPS[key][1], call.language)
                if len(items) == 1:
                    intent, title = items[0]
                    return await self.turn(request, call, catalog, f"/{intent}", {"title": f"キー{key}：{title}"},
                                           on_new_message)
                call.stage = f"menu:{key}"
                return await self.gather(request, call, [self.submenu(catalog, call, key)], catalog)
            call.stage = "main"
            return await self.gather(request, call, self.menu(request, catalog, call), catalog)
        # The staff transcript shows that this was heard by a recognizer, and how sure it was.
        heard = {"input": "speech", "confidence": confidence} if confidence is not None else {"input": "speech"}
        return await self.turn(request, call, catalog, speech, heard, on_new_message)

    def menu(self, request: Request, catalog: Catalog, call: Call) -> List[str]:
        """The keypad menu, and the other language's offer when that voice is available."""
        spoken = prompts(catalog, call, "menu")
        if request.app.ctx.speech.speaks_well("en"):
            spoken += prompts(catalog, call, "language_offer")
        return spoken

    async def switch_language(self, request: Request, call: Call, catalog: Catalog, target: str,
                              on_new_message: OnNewMessage) -> HTTPResponse:
        """7 (or 「English」): English from here on, or Japanese again; the dialogue switches
        too. Without an English voice (Open JTalk reads English badly) the call stays Japanese."""
        if not request.app.ctx.speech.speaks_well(target):
            call.stage = "main"
            return await self.gather(request, call, self.menu(request, catalog, call), catalog)
        payload = f'{LANGUAGE_PAYLOAD}{{"language":"{target}"}}'
        call.language = target
        return await self.turn(request, call, catalog, payload, {"title": TITLES[f"language_{target}"]},
                               on_new_message)

    async def silence(self, request: Request, call: Call, catalog: Catalog,
                      on_new_message: OnNewMessage) -> HTTPResponse:
        """Nothing heard (or nothing clear): ask again, then the keypad menu, then staff."""
        call.misses += 1
        if call.misses == 1:
            return await self.gather(request, call, prompts(catalog, call, "ask_again"), catalog)
        if call.misses == 2:
            call.stage = "main"
            return await self.gather(request, call, self.menu(request, catalog, call), catalog)
        if call.misses == 3 and call.stage != "callback":
            return await self.turn(request, call, catalog, STAFF_PAYLOAD, {"title": TITLES["silence"]}, on_new_message)
        # Still nothing after staff were offered: say where to call, and end the call.
        counter = catalog.counter_for(None)
        return await self.hang_up(request, call, [
            prompt(catalog, call, "counter_number", counter=counter.name.get(call.language), phone=counter.phone),
            prompt(catalog, call, "goodbye")])

    async def continue_slip(self, request: Request, call: Call, catalog: Catalog, number: str,
                            on_new_message: OnNewMessage) -> HTTPResponse:
        """A visit slip made on the web (or LINE, Telegram): its procedure's checklist, read out.

        The slip's conversation belongs to its own channel; this call continues from what the
        slip says (the procedure), and the slip number in the message's metadata links the two
        for staff. Wrong numbers count per caller across calls (a keyed hash of the number;
        withheld numbers share one count): after a few, staff take over instead of the search."""
        caller = call.sender if caller_known(call.caller) else "anonymous"
        if not await self.calls.slip_allowed(caller):
            return await self.turn(request, call, catalog, STAFF_PAYLOAD, {"title": TITLES["slip_limit"]},
                                   on_new_message, prompt(catalog, call, "slip_limit"))
        staff = getattr(request.app.ctx, "staff", None)
        found = None
        if staff is not None:
            found = await asyncio.to_thread(Slips(staff.handoffs.db).lookup, number)
        if found is None:
            await self.calls.slip_wrong(caller)
            call.stage = "main"
            return await self.gather(request, call, prompts(catalog, call, "slip_not_found")
                                     + self.menu(request, catalog, call), catalog)
        procedure = catalog.procedures.get(found.get("procedure") or "")
        metadata = {"title": f"来庁票 {number}", "slip": number}
        if procedure is None:
            call.stage = "main"
            return await self.gather(request, call, prompts(catalog, call, "slip_continue_general")
                                     + self.menu(request, catalog, call), catalog)
        payload = f'{DOCUMENTS_PAYLOAD}{{"procedure":"{procedure.id}"}}'
        preface = prompt(catalog, call, "slip_continue", title=procedure.title.get(call.language))
        return await self.turn(request, call, catalog, payload, metadata, on_new_message, preface)

    async def turn(self, request: Request, call: Call, catalog: Catalog, text: str,
                   metadata: Optional[Dict[str, Any]], on_new_message: OnNewMessage,
                   preface: str = "") -> HTTPResponse:
        """One message through the gate and Rasa; the reply played (or the call transferred)."""
        try:
            result = await self.ask(request, call, text, metadata, on_new_message)
        except InboundError:
            return await self.gather(request, call, prompts(catalog, call, "ask_again"), catalog)
        except Exception:  # the message is in the tracker; the resident may simply say it again
            logger.exception("voice channel: handling a message failed")
            return await self.gather(request, call, prompts(catalog, call, "error"), catalog)
        parts = split_parts(([preface] if preface else []) + result.texts)
        if result.dial:
            return await self.transfer(request, call, catalog, parts[:1 + bool(preface)], result.dial)
        if result.offers_callback:
            call.stage = "callback"
            offer = prompt(catalog, call, "callback_offer" if caller_known(call.caller) else "no_callback_number")
            call.last, call.rest = parts + [offer], []
            return await self.gather(request, call, call.last, catalog)
        call.stage = "answer"
        first, call.rest = (parts[0] if parts else ""), parts[1:]
        after = prompts(catalog, call, "more" if call.rest else "next")
        call.link = (result.link or {}).get("url", "")
        call.link_title = (result.link or {}).get("title", "")
        routed = catalog.counters.get(result.section or "")
        call.section_phone = e164(routed.phone) if routed is not None else ""
        if routed is not None:  # 総合案内: the caller can be put through to that section
            after = [prompt(catalog, call, "route_transfer_offer", section=routed.name.get(call.language))] + after
        if self.sms_enabled and caller_known(call.caller):
            sms = prompts(catalog, call, "faq_sms_offer" if call.link else "sms_offer")
            after = after + sms if call.rest else sms + after
        call.last = [p for p in [first] if p] + after
        return await self.gather(request, call, call.last, catalog)

    async def ask(self, request: Request, call: Call, text: str, metadata: Optional[Dict[str, Any]],
                  on_new_message: OnNewMessage) -> Turn:
        inbound = self.prepare(text, metadata)
        collector = AnnotatedCollectingOutputChannel()
        await on_new_message(UserMessage(inbound.text, collector, call.sender, input_channel=self.name(),
                                         metadata=inbound.metadata))
        messages = collector.messages
        texts = [for_the_phone(m) for m in messages if m.get("text")]
        language = next((str(m["lang"]) for m in messages if m.get("lang")), call.language)
        # English only with a voice that speaks it; otherwise the phone keeps to Japanese.
        call.language = "en" if language == "en" and request.app.ctx.speech.speaks_well("en") else "ja"
        payloads = {str(b.get("payload")) for m in messages for b in (m.get("buttons") or []) if isinstance(b, dict)}
        turn = Turn(texts, call.language, offers_callback=CALLBACK_OFFER_PAYLOAD in payloads)
        sources = [(m.get("custom") or {}) for m in messages]
        turn.link = next((c["link"] for c in sources if isinstance(c.get("link"), dict)), None)
        turn.section = next((c["source"].get("section") for c in sources if isinstance(c.get("source"), dict)
                             and c["source"].get("source") == "route"), None)
        staff = getattr(request.app.ctx, "staff", None)
        if staff is not None:
            entry = await asyncio.to_thread(staff.handoffs.get, call.sender)
            if entry is not None and entry.state == QUEUED and entry.reason != "callback":
                catalog: Catalog = await request.app.ctx.catalogs.current()
                counter = catalog.counters.get(entry.section) or catalog.counter_for(None)
                turn.dial = e164(counter.phone)
        return turn

    async def callback(self, request: Request, call: Call, catalog: Catalog,
                       on_new_message: OnNewMessage) -> HTTPResponse:
        """Consent given: the dialogue asks for the number, and the calling number is the answer."""
        if not caller_known(call.caller):
            call.stage = "main"
            return await self.gather(request, call, prompts(catalog, call, "no_callback_number", "next"), catalog)
        try:
            await self.ask(request, call, CALLBACK_CONSENT_PAYLOAD, {"title": TITLES["callback"]}, on_new_message)
            # The gate takes the number out of this message (into the call-back request) before
            # Rasa stores it; the tracker keeps 「[電話番号]」.
            result = await self.ask(request, call, domestic(call.caller), None, on_new_message)
        except Exception:
            logger.exception("voice channel: registering a call-back failed")
            return await self.gather(request, call, prompts(catalog, call, "error"), catalog)
        return await self.hang_up(request, call, split_parts(result.texts) + prompts(catalog, call, "goodbye"))

    async def send_documents(self, request: Request, call: Call, catalog: Catalog,
                             on_new_message: OnNewMessage) -> HTTPResponse:
        if not (self.sms_enabled and caller_known(call.caller)):
            return await self.gather(request, call, prompts(catalog, call, "sms_unavailable", "next"), catalog)
        # The offer said: what to bring (or the page of the FAQ answer), and messages from staff
        # (after the call too).
        call.sms_consent = True
        try:
            if call.link:
                await self.send_sms(call.caller, prompt(catalog, call, "faq_sms_text", title=call.link_title,
                                                        url=call.link))
            else:
                result = await self.ask(request, call, DOCUMENTS_PAYLOAD, {"title": TITLES["sms"]}, on_new_message)
                await self.send_sms(call.caller, "\n".join(result.texts))
            notice = "sms_sent"
        except Exception:
            logger.exception("voice channel: sending the checklist by SMS failed")
            notice = "sms_failed"
        return await self.gather(request, call, prompts(catalog, call, notice, "next"), catalog)

    # --- staff messages (bot/delivery.py) ---------------------------------------------------------
    async def push(self, recipient_id: str, message: Dict[str, Any]) -> bool:
        """A clerk's reply (or a queue notice) for a phone conversation; True if it reached the caller.

        While the caller is on the line it is played before the next question (「職員からの
        お知らせです」, then the message). After the call a clerk's own words go by SMS to a
        caller who agreed to text messages; anything else stays in the transcript for the
        call-back."""
        if not recipient_id.startswith(self.sender_prefix) or not message.get("text"):
            return False
        if await self.calls.hold_for_caller(recipient_id, dict(message)):
            return True
        number = await self.calls.number_for(recipient_id)
        if number is None or not message.get("staff") or not self.sms_enabled:
            return False
        try:
            await self.send_sms(number, str(message["text"]))
        except Exception:
            logger.exception("voice channel: a staff message could not be sent by SMS")
            return False
        return True

    async def call_ended(self, call: Call) -> None:
        """The caller hung up: keep a consenting caller's number for later staff replies, and send
        the clerk's words that came too late to be played."""
        if not (call.sms_consent and caller_known(call.caller)):
            return
        await self.calls.remember_number(call.sender, call.caller)
        for message in await self.calls.take_pending(call):
            await self.push(call.sender, message)

    async def with_staff_messages(self, catalog: Catalog, call: Call, texts: Sequence[str]) -> List[str]:
        """`texts` after the staff messages waiting for this call (announced once)."""
        waiting = [str(message["text"]) for message in await self.calls.take_pending(call)]
        return (prompts(catalog, call, "staff_notice") + waiting if waiting else []) + list(texts)

    # --- SMS -------------------------------------------------------------------------------------
    @property
    def sms_enabled(self) -> bool:
        return bool(self.account_sid and self.sms_from and self.auth_token)

    def sms_client(self) -> Any:
        if self._sms_client is None:
            from twilio.rest import Client

            client = Client(self.account_sid, self.auth_token)
            if self.api_url:  # a local fake of the API in tests
                client.api.base_url = self.api_url
            self._sms_client = client
        return self._sms_client

    async def send_sms(self, to: str, body: str) -> None:
        """The Messages API through twilio's REST client, in a worker thread (it is synchronous)."""
        def create() -> None:
            self.sms_client().messages.create(to=to, from_=self.sms_from, body=body[:1500])

        await asyncio.wait_for(asyncio.to_thread(create), SMS_TIMEOUT_SECONDS)

    # --- TwiML ------------------------------------------------------------------------------------
    def submenu(self, catalog: Catalog, call: Call, key: str) -> str:
        title_key, intents = MENU_GROUPS[key]
        items = "".join(prompt(catalog, call, "submenu_item", number=str(number), title=label)
                        for number, (_, label) in enumerate(menu_items(catalog, intents, call.language), 1))
        return prompt(catalog, call, "submenu", title=catalog.phrase(title_key, call.language), items=items)

    async def play_urls(self, request: Request, call: Call, texts: Sequence[str]) -> List[str]:
        """The absolute URLs of the texts' audio (synthesized at once, cached by content)."""
        speech = request.app.ctx.speech
        wanted = [text for text in texts if text and text.strip()]
        english_voice = speech.speaks_well("en")
        results = await asyncio.gather(*(speech.synthesize(text, language=language_of(text, call.language,
                                                                                      english_voice),
                                                           slow=call.slow, phone=True)
                                         for text in wanted), return_exceptions=True)
        urls = []
        for result in results:
            if isinstance(result, BaseException):  # the rest of the answer is still played
                logger.error("voice channel: a reply could not be synthesized: %s", result)
                continue
            urls.append(self.public_url + speech.url_for(result))
        return urls

    async def gather(self, request: Request, call: Call, texts: Sequence[str], catalog: Catalog,
                     digits: int = 1) -> HTTPResponse:
        """Play `texts`, then listen for speech or keys (one key; `digits` for a number)."""
        twiml = VoiceResponse()
        english = call.language == "en"
        gather = Gather(input="speech dtmf", language=ENGLISH if english else LANGUAGE,
                        hints=HINT_WORDS_EN if english else hints(catalog), action=self.url("/gather"),
                        method="POST", timeout=GATHER_TIMEOUT if digits == 1 else GATHER_TIMEOUT * 2,
                        speech_timeout="auto", num_digits=digits, finish_on_key="" if digits == 1 else "#",
                        action_on_empty_result=True)
        for url in await self.play_urls(request, call, await self.with_staff_messages(catalog, call, texts)):
            gather.play(url)
        twiml.append(gather)
        return twiml_response(twiml)

    async def transfer(self, request: Request, call: Call, catalog: Catalog, said: Sequence[str],
                       number: str) -> HTTPResponse:
        twiml = VoiceResponse()
        texts = list(said) + prompts(catalog, call, "transfer")
        for url in await self.play_urls(request, call, await self.with_staff_messages(catalog, call, texts)):
            twiml.play(url)
        twiml.dial(number)
        return twiml_response(twiml)

    async def store_unreachable(self, request: Request, form: Dict[str, str]) -> HTTPResponse:
        """The caller still hears where to call (the counter's number) instead of an error tone."""
        catalog: Catalog = await request.app.ctx.catalogs.current()
        call = Call("", "")  # not stored: the store is what failed
        counter = catalog.counter_for(None)
        twiml = VoiceResponse()
        texts = [prompt(catalog, call, "counter_number", counter=counter.name.get(call.language), phone=counter.phone),
                 prompt(catalog, call, "goodbye")]
        for url in await self.play_urls(request, call, texts):
            twiml.play(url)
        twiml.hangup()
        return twiml_response(twiml)

    async def hang_up(self, request: Request, call: Call, texts: Sequence[str]) -> HTTPResponse:
        twiml = VoiceResponse()
        catalog: Catalog = await request.app.ctx.catalogs.current()
        for url in await self.play_urls(request, call, await self.with_staff_messages(catalog, call, texts)):
            twiml.play(url)
        twiml.hangup()
        return twiml_response(twiml)


class TwilioFields(Dict[str, List[str]]):
    """A Twilio webhook's form exactly as posted: every field, blank ones included.

    Twilio signs every parameter it sends, empty ones too (`FromCity=`, `CallerZip=`, a keypad
    Gather's `FinishedOnKey=`), but Sanic 21.12's `request.form` drops blank values
    (sanic-org/sanic#2427): checked over that, every real call would be refused. The twilio
    validator reads several values of a field through `getall`, as from Flask's MultiDict.
    """

    @classmethod
    def parse(cls, body: bytes) -> "TwilioFields":
        fields = cls()
        for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
            fields.setdefault(key, []).append(value)
        return fields

    def getall(self, name: str) -> List[str]:
        return self[name]

    def first_values(self) -> Dict[str, str]:
        return {key: values[0] for key, values in self.items()}


def twiml_response(twiml: VoiceResponse) -> HTTPResponse:
    return response.text(str(twiml), content_type="text/xml; charset=utf-8")


def for_the_phone(message: Dict[str, Any]) -> str:
    """A message's text as the phone says it: an FAQ answer without its source line (a web
    address read aloud helps nobody; the caller is offered it by SMS instead)."""
    text = str(message.get("text"))
    link = (message.get("custom") or {}).get("link")
    if isinstance(link, dict) and link.get("url"):
        text = "\n".join(line for line in text.split("\n") if str(link["url"]) not in line)
    return text


def prompt(catalog: Catalog, call: Call, key: str, **values: str) -> str:
    """One of the phone's own sentences (intents/phrases.yml `phone_<key>`) in the call's language."""
    return catalog.phrase(f"phone_{key}", call.language, **values)


def prompts(catalog: Catalog, call: Call, *keys: str) -> List[str]:
    return [prompt(catalog, call, key) for key in keys]


def menu_items(catalog: Catalog, intents: Sequence[str], language: str = "ja") -> List[Tuple[str, str]]:
    """(intent, spoken title) of the menu's intents that the catalog has."""
    items = []
    for intent in intents:
        if intent in catalog.procedures:
            items.append((intent, catalog.procedures[intent].title.get(language)))
        elif intent in catalog.life_events:
            items.append((intent, catalog.life_events[intent].title.get(language)))
    return items


def hints(catalog: Catalog) -> str:
    """Speech hints for Twilio's recognizer: the procedure titles and the phone's own words."""
    titles = [p.title.ja for p in catalog.procedures.values()] + [e.title.ja for e in catalog.life_events.values()]
    return ",".join(dict.fromkeys(list(HINT_WORDS) + titles))


def split_parts(texts: Sequence[str], limit: int = PART_CHARS) -> List[str]:
    """The answer in parts of about `limit` characters, cut after sentences; the first reply
    (the summary) is the first part."""
    parts: List[str] = []
    for text in texts:
        current = ""
        for sentence in re.findall(r"[^。\n]+。?|\n", text):
            sentence = sentence.strip()
            if not sentence:
                continue
            if current and len(current) + len(sentence) > limit:
                parts.append(current)
                current = ""
            current += sentence if not current or current.endswith("。") else "、" + sentence
        if current:
            parts.append(current)
    return parts


def slip_number_in(digits: str, speech: str, expecting: bool) -> Optional[str]:
    """A visit slip number keyed in (when asked for) or said (「来庁票の番号は123456」)."""
    if expecting and re.fullmatch(rf"\d{{{SLIP_DIGITS}}}", digits):
        return digits
    if speech and (expecting or SLIP_WORDS.search(speech)):
        found = re.findall(rf"(?<!\d)\d{{{SLIP_DIGITS}}}(?!\d)", re.sub(r"(?<=\d)[\s、,・-](?=\d)", "", speech))
        return found[0] if len(found) == 1 else None
    return None


JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


LATIN = re.compile(r"[A-Za-z]{2,}")


def language_of(text: str, call_language: str, english_voice: bool) -> str:
    """The voice for `text`: Japanese for any Japanese text (and for everything when no English
    voice is available); English for English words (the 「For English, press 7」 offer, an
    English answer) and for the rest of an English call."""
    if JAPANESE.search(text) or not english_voice:
        return "ja"
    return "en" if LATIN.search(text) or call_language == "en" else "ja"


def named_language(speech: str) -> Optional[str]:
    """ja or en when a short utterance names a language (「English」, 「日本語でお願いします」)."""
    if not speech or len(speech) > 10:
        return None
    return next((language for language, words in LANGUAGE_WORDS if words.search(speech)), None)


def confidence_of(value: Optional[str]) -> Optional[float]:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def caller_known(caller: str) -> bool:
    return caller.strip().lower() not in ANONYMOUS_CALLERS and bool(re.sub(r"\D", "", caller))


def domestic(number: str) -> str:
    """+81 90 1234 5678 → 09012345678 (how the call-back list shows Japanese numbers)."""
    digits = re.sub(r"\D", "", number)
    if number.strip().startswith("+81"):
        return "0" + digits[2:]
    return digits if not number.strip().startswith("+") else number.strip()


def e164(number: str) -> str:
    """A counter's number as Twilio dials it: 0120-000-111 → +81120000111."""
    digits = re.sub(r"\D", "", number)
    return "+81" + digits[1:] if digits.startswith("0") else "+" + digits
