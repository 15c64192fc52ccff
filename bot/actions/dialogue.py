"""The one dialogue action: every intent is routed here by the compiled rules.

It decides what to say from the catalog, the intent and the slots (procedure,
language, last answer, fallback streak), so behaviour lives in data and in small
functions that tests can reach.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions import handoff_turns
from bot.answering.source import Choice
from bot.answering.sources import AnswerSources
from bot.catalog import Catalog
from bot.catalog.provider import CatalogProvider
from bot.handoff.machine import HandoffService
from bot.messages import AnswerSource
from bot.replies import ASPECT_INTENT, ASPECTS, INTENT_ASPECT, Question, Reply, ReplyBuilder, to_message
from bot.text import LANGUAGES, romaji_words

PIN_WORDS = re.compile(r"暗証|あんしょう|\bpin\b|パスワード|password", re.I)
# Ways a resident names (「コンビニで」「スマホで」「郵送で」): the answer says はい／いいえ for that way.
# (Not bare セブン: マイナ保険証 registers at a Seven Bank ATM, which is not a convenience store.)
WAY_WORDS = {
    "online": r"オンライン|ネット|スマホ|スマートフォン|パソコン|online|internet|smartphone|website",
    "convenience_store": r"コンビニ|こんびに|ｺﾝﾋﾞﾆ|セブンイレブン|セブン-イレブン|ローソン|ファミマ|ファミリーマート"
                         r"|convenience store|konbini",
    "post": r"郵送|郵便|ゆうそう|by post|by mail|mail it|post it",
}
ASPECT_WORDS = {
    "documents": re.compile(r"持ち物|もちもの|持って|もって(い|行)|必要なもの|いるもの|要るもの|書類"
                            r"|bring|documents?|what do i need", re.I),
    "fee": re.compile(r"手数料|いくら|料金|費用|お金|無料|fee|cost|how much|charge", re.I),
    "deadline": re.compile(r"いつまで|期限|締め切り|しめきり|deadline|by when", re.I),
    "online": re.compile("|".join(WAY_WORDS.values()), re.I),
    "counter_location": re.compile(r"どこ|場所|何階|窓口は|where|which floor", re.I),
    "counter_hours": re.compile(r"何時|開いて|あいて|営業|受付時間|土曜|opening hours|\bopen\b|what time", re.I),
}
WAY_PATTERNS = {way: re.compile(words, re.I) for way, words in WAY_WORDS.items()}
# A question that asks which/what/when/where/how much is not a yes/no question.
WH_WORDS = re.compile(r"いつ|どこ|どちら|どっち|何|なに|なん[でにのじ]|いくら|どう|どの|どれ|だれ|誰|どんな"
                      r"|\b(what|where|when|which|who|how|why)\b", re.I)
# Yes/no questions: 「…できますか」「とれる?」 (recognized speech has no question mark), "Can I …".
YES_NO_END = re.compile(r"(か|かな|かね|かしら|の|できる|れる|える|せる|ける|いい|ok|[?？])[\s。.!！]*$", re.I)
YES_NO_START = re.compile(r"^\s*(can|could|may|is|are|do|does|will|am)\b", re.I)
FREE_WORDS = re.compile(r"無料|タダ|\bfree\b", re.I)
COST_WORDS = re.compile(r"かかり|かかる|有料|払|\bpay\b|\bcost|\bcharge", re.I)
DAY_WORDS = re.compile(r"土曜|日曜|土日|祝日|休日|週末|年末|年始|明日|あした|[月火水木金]曜|夜|"
                       r"saturday|sunday|weekend|holiday|tomorrow|monday|tuesday|wednesday|thursday|friday|night|evening",
                       re.I)
# Conditions the catalog cannot judge: no はい in front of the lead for them.
CONDITION_WORDS = re.compile(r"代理|代わり|かわりに|委任|本人以外|過ぎ|遅れ|おくれ|間に合"
                             r"|proxy|behalf|someone else|\blate\b", re.I)
LANGUAGE_WORDS = [
    ("easy", re.compile(r"やさしい|優しい|易しい|ひらがな|ふりがな|かんたん|簡単|easy|plain|furigana", re.I)),
    ("en", re.compile(r"英語|えいご|english|eigo", re.I)),
    ("ja", re.compile(r"日本語|にほんご|japanese|nihongo", re.I)),
]
ENGLISH_WORD = re.compile(r"\b[A-Za-z]*[aeiouyAEIOUY][A-Za-z]*\b")
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


def tagged(replies: List[Reply], source: AnswerSource) -> List[Reply]:
    """`replies` with their source where they have none yet (an answer's own lines)."""
    for reply in replies:
        if reply.source is None and source:
            reply.source = source
    return replies


def detect_language(text: str) -> Optional[str]:
    """'en' for a message written in English, 'ja' for Japanese (romaji too: 「sodaigomi
    dashikata」 is Japanese typed without an IME), None if unclear."""
    if JAPANESE.search(text) or romaji_words(text):
        return "ja"
    if len(ENGLISH_WORD.findall(text)) >= 2:
        return "en"
    return None


def requested_language(text: str, entities: List[Dict[str, Any]]) -> Optional[str]:
    for entity in entities:
        if entity.get("entity") == "language" and entity.get("value") in LANGUAGES:
            return entity["value"]
    for language, pattern in LANGUAGE_WORDS:
        if pattern.search(text):
            return language
    return None


# The city hall's own counters, by the words residents use for them (a counter's name is added per catalog).
COUNTER_WORDS = re.compile(r"窓口|まどぐち|市役所|しやくしょ|役所|やくしょ|city hall|counter", re.I)


def names_a_counter(text: str, catalog: Catalog) -> bool:
    """The message names the city hall or one of its counters (市民課, 介護保険課 …), not an outside office."""
    return bool(COUNTER_WORDS.search(text)) or any(
        counter.name.ja in text for counter in catalog.counters.values() if not counter.outside)


def asked_aspect(text: str) -> Optional[str]:
    for aspect in ASPECTS:
        if ASPECT_WORDS[aspect].search(text):
            return aspect
    return None


def read_question(text: str) -> Question:
    """What kind of answer the words ask for: yes/no, about which way, free or not, which day."""
    if text.startswith("/"):  # a button: its label asks nothing more than the answer itself
        return Question()
    way = next((way for way, pattern in WAY_PATTERNS.items() if pattern.search(text)), None)
    yes_no = not WH_WORDS.search(text) and bool(YES_NO_END.search(text) or YES_NO_START.search(text))
    asks_free = True if FREE_WORDS.search(text) else (False if COST_WORDS.search(text) else None)
    return Question(yes_no=yes_no, way=way, asks_free=asks_free, names_day=bool(DAY_WORDS.search(text)),
                    conditional=bool(CONDITION_WORDS.search(text)))


class ActionMadoguchi(Action):
    """Built by the server with its catalog provider and handoff service (bot/server.py).

    Without them (`rasa run actions` builds every action with no arguments: the stock
    reference of bench/stock_vs_ours.py) both come from the environment's settings.
    """

    def __init__(self, catalogs: Optional[CatalogProvider] = None, handoffs: Optional[HandoffService] = None) -> None:
        if catalogs is None or handoffs is None:
            from bot.handoff.runtime import service_for
            from bot.settings import Settings

            settings = Settings.from_env()
            catalogs = catalogs or CatalogProvider(settings.catalog_dir)
            handoffs = handoffs or service_for(settings.tracker_database_url, settings.callback_ttl_seconds)
        self.catalogs = catalogs
        self.handoffs = handoffs
        self.sources = AnswerSources()

    def name(self) -> Text:
        return "action_madoguchi"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        catalog = await self.catalogs.current()
        message = tracker.latest_message or {}
        text = message.get("text") or ""
        intent = (message.get("intent") or {}).get("name") or "nlu_fallback"
        entities = message.get("entities") or []
        metadata = message.get("metadata") or {}
        events: List[Dict] = []

        language = tracker.get_slot("language")
        if language not in LANGUAGES:
            language = detect_language(text) if not text.startswith("/") else None
            language = language or "ja"
            events.append(SlotSet("language", language))
        elif (intent not in ("change_language", "nlu_fallback") and not text.startswith("/")
              and detect_language(text) == "en" and language != "en"):
            # A resident who starts writing English gets English without asking.
            language = "en"
            events.append(SlotSet("language", language))

        replies: List[Reply] = []
        builder = ReplyBuilder(catalog, language)
        for finding in metadata.get("redacted") or []:
            replies.append(Reply([builder.phrase("redacted_pin" if finding == "pin" else "redacted_my_number")]))

        procedure_id = next((e.get("value") for e in entities if e.get("entity") == "procedure"
                             and e.get("value") in catalog.procedures), None) or tracker.get_slot("procedure")
        last = tracker.get_slot("last_answer") or None
        streak = int(tracker.get_slot("fallback_streak") or 0)
        pin_topic = bool(PIN_WORDS.search(text)) or "pin" in (metadata.get("redacted") or [])

        answer: Optional[Dict[str, Any]] = None  # what 「もう一度」 repeats
        handoff_reason: Optional[str] = None
        # 「市民課の窓口は今開いていますか」 is a question about a counter, whatever the classifier made of it.
        counter_aspect = asked_aspect(text) if intent in ("out_of_scope", "nlu_fallback") else None
        if counter_aspect in ("counter_hours", "counter_location") and names_a_counter(text, catalog):
            intent = ASPECT_INTENT[counter_aspect]
            message = {**message, "intent": {"name": intent, "confidence": 1.0}}
        # Where the answer comes from: the procedure understood, the FAQ, the section, or nobody.
        choice = await self.sources.choose(catalog, message, tracker.get_slot("procedure"))
        if choice.kind == "procedure" and choice.procedure:  # a procedure the classifier missed
            intent, choice = choice.procedure, Choice("nlu")
        if intent == "affirm" and isinstance(last, dict) and last.get("kind") == "confirm" \
                and last.get("procedure") in catalog.procedures:
            intent = last["procedure"]  # 「はい」 to 「転入届のことでしょうか。」
        faq_id = next((e.get("value") for e in entities if e.get("entity") == "faq"), None)
        callback = metadata.get("callback")
        if callback in ("invalid_phone", "gave_up") and (intent == "deny" or self.moves_on(intent, catalog)):
            # Not a phone number but "no" or another question: the call-back is dropped and a
            # question is answered normally.
            if callback == "invalid_phone":  # the gate still waits for a second try
                await handoff_turns.stop_waiting_for_phone(self.handoffs, tracker)
            callback = "cancelled" if intent == "deny" else None
        if callback:
            # The gate took a callback phone number (or its absence) out of this message.
            replies += handoff_turns.callback_outcome(builder, callback, procedure_id)
        elif metadata.get("handoff") == "cancelled":
            # The gate took the resident out of the queue, whatever the NLU made of 「キャンセル」.
            replies.append(Reply([builder.phrase("handoff_cancelled")]))
        elif choice.kind != "nlu":
            if streak:
                events.append(SlotSet("fallback_streak", 0.0))
            answer = self.answer_for(choice)
        elif intent == "faq_answer" and faq_id in catalog.faq:
            answer = {"kind": "faq", "faq": faq_id}
        elif intent == "deny" and isinstance(last, dict) and last.get("kind") in ("confirm", "faq_choice"):
            replies.append(builder.confirm_declined())
            events.append(SlotSet("last_answer", None))
        elif intent == "nlu_fallback":
            streak += 1
            ranking = [r.get("name") for r in (message.get("intent_ranking") or [])]
            candidates = [n for n in ranking if n in catalog.procedures or n in catalog.life_events][:3]
            if streak >= 2:
                replies.append(builder.fallback_human())
                handoff_reason = "fallback"
            else:
                replies.append(builder.fallback_candidates(candidates))
            events.append(SlotSet("fallback_streak", float(streak)))
        else:
            if streak:
                events.append(SlotSet("fallback_streak", 0.0))
            if intent == "change_language":
                target = requested_language(text, entities) or ("en" if language != "en" else "ja")
                language = target
                builder = ReplyBuilder(catalog, language)
                events.append(SlotSet("language", language))
                replies = [Reply([builder.phrase("language_switched")])] + replies
                if last:
                    replies += self.render(builder, last, pin_topic)
            elif intent == "repeat":
                if last:
                    replies += self.render(builder, last, pin_topic)
                else:
                    replies.append(Reply([builder.phrase("nothing_to_repeat")]))
            elif intent in catalog.procedures:
                procedure_id = intent
                events.append(SlotSet("procedure", procedure_id))
                aspect = asked_aspect(text) if not text.startswith("/") else None
                answer = {"kind": "aspect" if aspect else "procedure", "procedure": procedure_id, "aspect": aspect,
                          "question": read_question(text).as_slot()}
                if catalog.procedures[intent].human_only:
                    handoff_reason = "sensitive"
            elif intent in INTENT_ASPECT:
                if procedure_id and procedure_id != tracker.get_slot("procedure"):
                    events.append(SlotSet("procedure", procedure_id))
                # The resident's own words outrank the classifier's pick among the aspects
                # (「窓口は今開いていますか」 asks when, whichever of when/where DIET chose).
                aspect = (asked_aspect(text) if not text.startswith("/") else None) or INTENT_ASPECT[intent]
                answer = {"kind": "aspect", "procedure": procedure_id, "aspect": aspect,
                          "question": read_question(text).as_slot()}
            elif intent in catalog.life_events:
                answer = {"kind": "checklist", "event": intent}
            elif intent == "request_human":
                handoff_reason = "request"
            elif intent == "cancel_handoff":
                replies.append(Reply([builder.phrase("nothing_to_cancel")]))
            elif intent == "callback_request":
                replies += handoff_turns.callback_request(builder)
            elif intent == "callback_consent":
                replies += await handoff_turns.callback_consent(self.handoffs, builder, tracker, procedure_id)
            elif intent == "visit_slip":
                replies += await handoff_turns.visit_slip(self.handoffs, builder, tracker, procedure_id)
            elif intent == "satisfaction":
                score = next((e.get("value") for e in entities if e.get("entity") == "score"), None)
                if await handoff_turns.record_satisfaction(self.handoffs, tracker, score):
                    replies.append(Reply([builder.phrase("satisfaction_thanks")]))
            elif intent in ("affirm", "deny"):
                replies.append(Reply([builder.phrase(f"{intent}_reply")]))
            elif intent in catalog.conversation:
                replies += builder.fixed(intent)
                if catalog.conversation[intent].human_only:
                    handoff_reason = "sensitive"
        if answer is not None:
            replies += self.render(builder, answer, pin_topic)
            events.append(SlotSet("last_answer", answer))
        if pin_topic and not callback and not any(builder.phrase("pin_never_asked") in r.lines for r in replies):
            replies.append(Reply([builder.phrase("pin_never_asked")]))

        if handoff_reason is not None:
            handoff_replies, handoff_events = await handoff_turns.start_handoff(self.handoffs, builder, tracker,
                                                                                procedure_id, handoff_reason)
            replies += handoff_replies
            events += handoff_events

        for reply in replies:
            if reply.source is None:  # a conversation reply (greeting, thanks, handoff notices…)
                reply.source = {"source": "conversation", "intent": intent}
            dispatcher.utter_message(**to_message(reply, language))
        return events

    @staticmethod
    def answer_for(choice: Choice) -> Dict[str, Any]:
        """The `last_answer` slot for an answer from the FAQ or the directory (「もう一度」 repeats it)."""
        if choice.kind == "faq":
            return {"kind": "faq", "faq": choice.faq[0].id}
        if choice.kind == "faq_choice":
            return {"kind": "faq_choice", "faqs": [entry.id for entry in choice.faq]}
        if choice.kind == "route" and choice.route is not None:
            return {"kind": "route", "section": choice.route.counter.id, "topic": choice.route.topic}
        if choice.kind == "confirm":
            return {"kind": "confirm", "procedure": choice.procedure}
        return {"kind": "unknown"}

    @staticmethod
    def moves_on(intent: str, catalog: Catalog) -> bool:
        """A new question (not an answer to 「電話番号を入力してください」)."""
        return (intent in catalog.procedures or intent in catalog.life_events or intent in INTENT_ASPECT
                or intent in ("request_human", "callback_request", "visit_slip", "change_language"))

    @staticmethod
    def render(builder: ReplyBuilder, answer: Dict[str, Any], pin_topic: bool) -> List[Reply]:
        catalog = builder.catalog
        kind = answer.get("kind")
        procedure = catalog.procedures.get(answer.get("procedure") or "")
        question = Question.from_slot(answer.get("question"))
        source: AnswerSource = {"source": "procedure", "id": procedure.id} if procedure else {}
        if kind == "procedure" and procedure:
            return tagged(builder.procedure_summary(procedure, pin_topic, question), source)
        if kind == "aspect":
            if procedure and procedure.human_only:
                return tagged(builder.procedure_summary(procedure, pin_topic), source)
            return tagged(builder.aspect(procedure, answer.get("aspect") or "documents", question), source)
        if kind == "checklist" and answer.get("event") in catalog.life_events:
            return tagged(builder.checklist(answer["event"]), {"source": "procedure", "id": answer["event"]})
        if kind == "faq" and answer.get("faq") in catalog.faq:
            return [builder.faq_answer(catalog.faq[answer["faq"]])]
        if kind == "faq_choice":
            entries = [catalog.faq[i] for i in answer.get("faqs") or () if i in catalog.faq]
            return [builder.faq_choice(entries)] if len(entries) > 1 else [builder.faq_answer(e) for e in entries]
        if kind == "route" and answer.get("section") in catalog.counters:
            return [builder.route(catalog.counters[answer["section"]], str(answer.get("topic") or ""))]
        if kind == "confirm" and procedure:
            return [builder.confirm_procedure(procedure)]
        if kind == "unknown":
            return [builder.not_known()]
        if kind == "human":
            return [builder.human_contact()]
        return [Reply([builder.phrase("nothing_to_repeat")])]
