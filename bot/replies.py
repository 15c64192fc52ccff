"""Build the assistant's replies from the catalog, in the resident's language.

Replies are plain data (`Reply`): the dialogue action turns them into messages, so the
same answer can be re-rendered in another language for 「もう一度」 or a language switch.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bot import clock, opening_hours
from bot.catalog import furigana
from bot.catalog.model import Catalog, Counter, FaqEntry, HoursRule, Procedure
from bot.messages import AnswerSource, BotMessage

# Order matters where words overlap: 「窓口は開いてる？」 asks about hours before place.
ASPECTS = ("documents", "fee", "deadline", "online", "counter_hours", "counter_location")
ASPECT_INTENT = {
    "documents": "ask_documents", "fee": "ask_fee", "deadline": "ask_deadline",
    "online": "ask_online", "counter_location": "counter_location", "counter_hours": "counter_hours",
}
INTENT_ASPECT = {intent: aspect for aspect, intent in ASPECT_INTENT.items()}
ASPECT_LABEL = {
    "documents": "label_documents", "fee": "label_fee", "deadline": "label_deadline",
    "online": "label_online", "counter_location": "label_counter", "counter_hours": "label_counter",
}
# Offered when the resident has not named a procedure yet.
POPULAR = ("residence_certificate", "moving_in", "mynumber_apply", "mynumber_pickup", "mynumber_lost")
HTML_LANG = {"ja": "ja", "en": "en", "easy": "ja"}
# Ways a resident can ask about by name (「コンビニでとれますか」), in the order answers list them.
REMOTE_WAYS = ("online", "convenience_store", "post")
# A title's closing note in brackets is left out when the title sits inside a sentence.
TITLE_NOTE = re.compile(r"\s*[（(][^（）()]*[）)]\s*$")
# Where a list item's short name ends: its note in brackets, a colon, or (English) a comma.
ITEM_END = {"ja": re.compile(r"[（(：:]"), "easy": re.compile(r"[（(：:]"), "en": re.compile(r"\s*[(:,;]")}
ARTICLE = re.compile(r"^(A|An|The|Your) ")


@dataclass(frozen=True)
class Question:
    """What the resident's words say about the answer they expect (read by the dialogue action).

    Kept in the `last_answer` slot, so 「もう一度」 repeats the same answer."""

    yes_no: bool = False  # 「できますか」「とれる?」 "Can I …": the answer starts with はい／いいえ
    way: Optional[str] = None  # online | convenience_store | post, when named
    asks_free: Optional[bool] = None  # True 「無料ですか」, False 「お金はかかりますか」, None neither
    names_day: bool = False  # asks about a particular day (土曜, 祝日), not about now
    conditional: bool = False  # a condition the catalog cannot judge (a proxy, after the deadline)

    def as_slot(self) -> Dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_slot(cls, value: Any) -> "Question":
        if not isinstance(value, dict):
            return cls()
        way = value.get("way") if value.get("way") in REMOTE_WAYS else None
        asks_free = value.get("asks_free") if isinstance(value.get("asks_free"), bool) else None
        return cls(bool(value.get("yes_no")), way, asks_free, bool(value.get("names_day")),
                   bool(value.get("conditional")))


@dataclass
class Button:
    title: str  # may contain furigana markup in easy mode
    payload: str


@dataclass
class Reply:
    """One bot message: lines of text (with furigana markup in easy mode) and buttons."""

    lines: List[str] = field(default_factory=list)
    buttons: List[Button] = field(default_factory=list)
    image: Optional[str] = None  # e.g. a visit slip's QR code as a data URL
    source: Optional[AnswerSource] = None  # where its content comes from (procedure, faq, route, …)
    link: Optional[Dict[str, str]] = None  # {"title", "url"}: e.g. the FAQ page an answer quotes

    def text(self) -> str:
        return "\n".join(line for line in self.lines if line)


def to_message(reply: Reply, language: str) -> BotMessage:
    """The kwargs for `dispatcher.utter_message`: plain text for every channel, plus
    `lang` and the furigana source (`ruby`) for channels that can show ruby."""
    source = reply.text()
    message: BotMessage = {
        "text": furigana.parenthesized(source) if language == "easy" else furigana.plain(source),
        "lang": HTML_LANG.get(language, "ja"),
        "variant": language,
    }
    if language == "easy" or furigana.RUBY_PATTERN.search(source):
        message["ruby"] = source
    if reply.image:
        message["image"] = reply.image
    if reply.source:
        message["source"] = reply.source
    if reply.link:
        message["link"] = {"title": furigana.plain(reply.link["title"]), "url": reply.link["url"]}
    if reply.buttons:
        message["buttons"] = [
            {"title": furigana.plain(b.title) if language != "easy" else furigana.kana(b.title),
             "payload": b.payload}
            for b in reply.buttons
        ]
    return message


class ReplyBuilder:
    """Everything the assistant says, for one language."""

    def __init__(self, catalog: Catalog, language: str, now: Optional[dt.datetime] = None):
        self.catalog = catalog
        self.language = language
        self.now = now or clock.now()

    def phrase(self, key: str, **values: str) -> str:
        return self.catalog.phrase(key, self.language, **values)

    def t(self, localized) -> str:
        return localized.get(self.language)

    def counter_for(self, procedure: Optional[Procedure]) -> Counter:
        return self.catalog.counter_for(procedure.id if procedure else None)

    # --- buttons -----------------------------------------------------------------
    def human_button(self) -> Button:
        return Button(self.phrase("label_human"), "/request_human")

    def cancel_button(self) -> Button:
        return Button(self.phrase("label_cancel"), "/cancel_handoff")

    def followup_buttons(self, procedure: Procedure) -> List[Button]:
        slot = f'{{"procedure":"{procedure.id}"}}'
        buttons = [
            Button(self.phrase(ASPECT_LABEL[aspect]), f"/{ASPECT_INTENT[aspect]}{slot}")
            for aspect in ("documents", "fee", "deadline", "online", "counter_hours")
        ]
        return buttons + [self.human_button()]

    def procedure_button(self, procedure_id: str) -> Button:
        return Button(self.t(self.catalog.procedures[procedure_id].title), f"/{procedure_id}")

    # --- answers -------------------------------------------------------------------
    # Every answer's first sentence answers the question; headings and details come after it.
    def short_title(self, procedure: Procedure) -> str:
        return TITLE_NOTE.sub("", self.t(procedure.title)) or self.t(procedure.title)

    def yes_no(self, yes: bool, text: str) -> str:
        return self.phrase("answer_yes" if yes else "answer_no", text=text)

    def procedure_lead(self, procedure: Procedure, question: Question = Question()) -> str:
        """The catalog's lead; a yes/no question about the procedure itself (「転出届は出せますか」)
        is answered はい: every procedure is something a resident can do, and the lead says how."""
        lead = self.t(procedure.lead)
        if question.yes_no and not (question.conditional or question.names_day or procedure.human_only):
            return self.yes_no(True, lead)
        return lead

    def procedure_summary(self, procedure: Procedure, pin_topic: bool, question: Question = Question()) -> List[Reply]:
        if procedure.human_only:
            return [Reply([self.procedure_lead(procedure), self.phrase("human_only_topic")], [self.human_button()])]
        counter = self.counter_for(procedure)
        lines = [self.procedure_lead(procedure, question), self.t(procedure.summary),
                 self.phrase("counter_line", counter=self.t(counter.name), place=self.t(counter.place))]
        if pin_topic or procedure.id == "mynumber_pin":
            lines.append(self.phrase("pin_never_asked"))
        replies = [Reply(lines, self.followup_buttons(procedure))]
        if procedure.related:
            related = [self.procedure_button(pid) for pid in procedure.related[:3] if pid in self.catalog.procedures]
            if related:
                replies.append(Reply([self.phrase("checklist_more")], related))
        return replies

    def aspect(self, procedure: Optional[Procedure], aspect: str, question: Question = Question()) -> List[Reply]:
        if aspect == "counter_hours":
            return [self.hours(procedure, question)]
        if aspect == "counter_location":
            return [self.location(procedure)]
        if procedure is None:
            return [self.which_procedure(aspect)]
        if aspect == "documents":
            lines = [self.documents_lead(procedure)]
            lines += [f"・{item}" for item in procedure.documents.get(self.language)]
        elif aspect == "fee":
            lines = [self.fee_lead(procedure, question)]
        elif aspect == "deadline":
            lines = [self.t(procedure.deadline)]
        else:  # online / convenience store / post / counter
            lines = self.ways(procedure, question)
        counter = self.counter_for(procedure)
        lines.append(self.phrase("counter_line", counter=self.t(counter.name), place=self.t(counter.place)))
        return [Reply(lines, self.followup_buttons(procedure))]

    def documents_lead(self, procedure: Procedure) -> str:
        """How many things to bring and the first (the key one), in one sentence; the list follows."""
        items = procedure.documents.get(self.language)
        first = ITEM_END[self.language if self.language in ITEM_END else "ja"].split(items[0], 1)[0].strip()
        if self.language == "en":
            first = ARTICLE.sub(lambda m: m.group(1).lower() + " ", first)
        key = "documents_lead_one" if len(items) == 1 else "documents_lead"
        return self.phrase(key, title=self.short_title(procedure), first=first or items[0], count=str(len(items)))

    def fee_lead(self, procedure: Procedure, question: Question) -> str:
        """The fee sentence; 「無料ですか」 and 「お金はかかりますか」 get はい／いいえ in front of it."""
        text = self.t(procedure.fee.text)
        if not question.yes_no or question.asks_free is None:
            return text
        free = procedure.fee.yen == 0
        return self.yes_no(free if question.asks_free else not free, text)

    def ways(self, procedure: Procedure, question: Question) -> List[str]:
        """はい／いいえ for the way asked about (or for any way other than the counter), then every way."""
        remote = [way for way in REMOTE_WAYS if way in procedure.how]
        title = self.short_title(procedure)
        listed = ["online", "convenience_store", "post", "counter", "other"]
        if question.way in procedure.how:
            lines = [self.yes_no(True, self.t(procedure.how[question.way]))]
            listed.remove(question.way)
        elif question.way:
            lines = [self.phrase("way_not_possible", title=title, way=self.phrase("by_" + question.way))]
        elif remote:
            joined = self.phrase("ways_joiner").join(self.phrase("by_" + way) for way in remote)
            lines = [self.phrase("way_possible", title=title, ways=joined)]
        else:
            joined = self.phrase("ways_joiner").join(self.phrase("by_" + way) for way in REMOTE_WAYS)
            lines = [self.phrase("way_not_possible", title=title, way=joined), self.phrase("no_online")]
        for way in listed:
            if way in procedure.how:
                lines.append(f"・{self.phrase('way_' + way)}：{self.t(procedure.how[way])}")
        return lines

    def which_procedure(self, aspect: str) -> Reply:
        buttons = [self.procedure_button(pid) for pid in POPULAR if pid in self.catalog.procedures]
        return Reply([self.phrase("ask_which_procedure")], buttons + [self.human_button()])

    def format_when(self, moment: dt.datetime) -> str:
        weekday = self.phrase("weekday_names").split(",")[moment.weekday()]
        return self.phrase(
            "date_format", month=str(moment.month), day=str(moment.day), weekday=weekday,
            time=moment.strftime("%H:%M"), month_name=moment.strftime("%b"),
        )

    def hours_text(self, counter: Counter) -> List[str]:
        lines = []
        for rule in counter.hours:
            lines.append(self.rule_text(rule))
        return lines

    def rule_text(self, rule: HoursRule) -> str:
        open_, close = rule.open.strftime("%H:%M"), rule.close.strftime("%H:%M")
        if rule.saturdays_of_month:
            nth = "・".join(str(n) for n in rule.saturdays_of_month)
            if self.language == "en":
                nth = " & ".join({1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th") for n in rule.saturdays_of_month)
            text = self.phrase("saturday_hours", nth=nth, open=open_, close=close)
            return f"{text}（{self.t(rule.note)}）" if rule.note else text
        return self.phrase("weekdays_hours", open=open_, close=close)

    def hours(self, procedure: Optional[Procedure], question: Question = Question()) -> Reply:
        """Open now or not comes first (はい／いいえ to 「今あいてますか」); a question about a particular
        day (「土曜日も…」) gets the opening hours first instead."""
        counter = self.counter_for(procedure)
        current, upcoming = opening_hours.status(self.catalog.city, counter, self.now)
        name = self.t(counter.name)
        status = None
        if current is not None:
            status = self.phrase("counter_open_now", counter=name, close=current.end.strftime("%H:%M"))
        elif upcoming is not None:
            status = self.phrase("counter_closed_now", counter=name, next=self.format_when(upcoming.start))
        hours = self.phrase("hours_line", hours=" / ".join(self.hours_text(counter)))
        if status is None or question.names_day:
            lines = [hours] + ([status] if status else [])
        else:
            lines = [self.yes_no(current is not None, status) if question.yes_no else status, hours]
        lines.append(self.phrase("closed_days"))
        lines.append(self.phrase("counter_line", counter=name, place=self.t(counter.place)))
        lines.append(self.phrase("phone_line", phone=counter.phone))
        buttons = self.followup_buttons(procedure) if procedure else [self.human_button()]
        return Reply(lines, buttons)

    def location(self, procedure: Optional[Procedure]) -> Reply:
        counter = self.counter_for(procedure)
        city = self.catalog.city
        lines = [
            self.phrase("location_lead", counter=self.t(counter.name), place=self.t(counter.place)),
            self.phrase("address_line", address=self.t(city.address)),
            self.t(city.access),
            self.phrase("phone_line", phone=counter.phone),
        ]
        buttons = self.followup_buttons(procedure) if procedure else [self.human_button()]
        return Reply(lines, buttons)

    def checklist(self, event_id: str) -> List[Reply]:
        event = self.catalog.life_events[event_id]
        # How many steps comes first: the answer to 「引っ越しの手続きは何がいりますか」.
        lines = [self.phrase("checklist_intro", title=self.t(event.title), count=str(len(event.steps)))]
        buttons = []
        for number, step in enumerate(event.steps, start=1):
            if step.procedure and step.procedure in self.catalog.procedures:
                procedure = self.catalog.procedures[step.procedure]
                lines.append(f"{number}. {self.t(procedure.title)} — {self.t(procedure.deadline)}")
                buttons.append(self.procedure_button(step.procedure))
            elif step.note:
                lines.append(f"{number}. {self.t(step.note)}")
        lines.append(self.phrase("checklist_more"))
        return [Reply(lines, buttons + [self.human_button()])]

    def human_contact(self) -> Reply:
        counter = self.counter_for(None)
        current, upcoming = opening_hours.status(self.catalog.city, counter, self.now)
        lines = [self.phrase("human_contact"),
                 self.phrase("counter_line", counter=self.t(counter.name), place=self.t(counter.place)),
                 self.phrase("phone_line", phone=counter.phone)]
        if current is not None:
            lines.append(self.phrase("open_now", close=current.end.strftime("%H:%M")))
        elif upcoming is not None:
            lines.append(self.phrase("closed_now", next=self.format_when(upcoming.start)))
        return Reply(lines)

    def fixed(self, intent: str) -> List[Reply]:
        reply = self.catalog.conversation[intent].reply
        if reply is None:
            return []
        buttons: List[Button] = []
        if intent in ("greet", "out_of_scope", "bot_challenge"):
            buttons = self.language_buttons() + [self.human_button()]
        return [Reply([self.t(reply)], buttons)]

    def language_buttons(self) -> List[Button]:
        return [
            Button("日本語", '/change_language{"language":"ja"}'),
            Button("English", '/change_language{"language":"en"}'),
            Button("やさしい にほんご", '/change_language{"language":"easy"}'),
        ]

    def fallback_candidates(self, candidates: Sequence[str]) -> Reply:
        # Another city's catalog may have none of the sample's popular ids: then its first procedures.
        popular = [pid for pid in POPULAR if pid in self.catalog.procedures] or sorted(self.catalog.procedures)
        candidates = list(candidates) or popular[:3]
        buttons = []
        for name in candidates:
            if name in self.catalog.procedures:
                buttons.append(self.procedure_button(name))
            elif name in self.catalog.life_events:
                buttons.append(Button(self.t(self.catalog.life_events[name].title), f"/{name}"))
        buttons.append(Button(self.phrase("label_none_of_these"), "/nlu_fallback"))
        return Reply([self.phrase("fallback_candidates")], buttons, source={"source": "fallback"})

    # --- handoff ---------------------------------------------------------------------
    def queue_joined(self, counter: Counter, position: Optional[Tuple[int, int]]) -> Reply:
        """`position`: (place, expected minutes), e.g. the handoff service's QueuePosition."""
        lines = [self.phrase("queue_joined", section=self.t(counter.name))]
        if position:
            place, minutes = position
            lines.append(self.phrase("queue_position", position=str(place), minutes=str(minutes)))
        return Reply(lines, [self.cancel_button()])

    def after_hours(self, counter: Counter) -> Reply:
        _, upcoming = opening_hours.status(self.catalog.city, counter, self.now)
        when = self.format_when(upcoming.start) if upcoming else "—"
        lines = [self.phrase("after_hours", section=self.t(counter.name), next=when),
                 self.phrase("phone_line", phone=counter.phone)]
        return Reply(lines, [Button(self.phrase("label_callback"), "/callback_request"),
                             Button(self.phrase("label_visit_slip"), "/visit_slip")])

    def next_opening(self, counter: Counter) -> str:
        _, upcoming = opening_hours.status(self.catalog.city, counter, self.now)
        return self.format_when(upcoming.start) if upcoming else "—"

    def satisfaction_question(self) -> Reply:
        return Reply([self.phrase("satisfaction_question")],
                     [Button(str(score), f'/satisfaction{{"score":"{score}"}}') for score in range(5, 0, -1)])

    # --- answers from the FAQ and the section directory (bot/answering) ----------------
    def section_hours(self, counter: Counter) -> str:
        return " / ".join(self.hours_text(counter))

    def faq_answer(self, entry: FaqEntry) -> Reply:
        """The city's own answer, verbatim, with who handles it and where the text comes from."""
        lines = []
        answer = entry.answer.get(self.language)
        if not answer:
            answer = entry.answer["ja"]
            lines.append(self.phrase("faq_in_japanese"))
        lines.insert(0, answer)
        counter = self.catalog.counters.get(entry.section)
        if counter is not None:
            lines.append(self.phrase("faq_section", section=self.t(counter.name), place=self.t(counter.place),
                                     phone=counter.phone, hours=self.section_hours(counter)))
        updated = entry.updated.isoformat()
        lines.append(self.phrase("faq_source", url=entry.url, updated=updated))
        source: AnswerSource = {"source": "faq", "id": entry.id, "url": entry.url, "updated": updated,
                                "section": entry.section}
        return Reply(lines, [self.human_button()], source=source,
                     link={"title": entry.text("question", self.language), "url": entry.url})

    def faq_choice(self, entries: Sequence[FaqEntry]) -> Reply:
        buttons = [Button(entry.text("question", self.language), f'/faq_answer{{"faq":"{entry.id}"}}')
                   for entry in entries]
        buttons.append(Button(self.phrase("label_faq_neither"), "/deny"))
        return Reply([self.phrase("faq_choose")], buttons,
                     source={"source": "faq_choice", "ids": [entry.id for entry in entries]})

    def route(self, counter: Counter, topic: str) -> Reply:
        """総合案内: the section that handles the matter, with its place, phone and hours."""
        values = dict(topic=topic or self.t(counter.name), section=self.t(counter.name), phone=counter.phone,
                      hours=self.section_hours(counter), place=self.t(counter.place))
        if counter.outside:
            line = self.phrase("route_outside", address=self.t(counter.address or counter.place), **values)
        else:
            line = self.phrase("route_answer", **values)
        return Reply([self.phrase("route_not_answered"), line], [self.human_button()],
                     source={"source": "route", "section": counter.id})

    def not_known(self) -> Reply:
        return Reply([self.phrase("not_known")], [self.human_button()], source={"source": "fallback"})

    def confirm_procedure(self, procedure: Procedure) -> Reply:
        """The middle band: ask instead of assuming (「転入届のことでしょうか。」 はい／いいえ)."""
        return Reply([self.phrase("confirm_procedure", title=self.short_title(procedure))],
                     [Button(self.phrase("label_yes"), f"/{procedure.id}"), Button(self.phrase("label_no"), "/deny")],
                     source={"source": "clarify", "id": procedure.id})

    def confirm_declined(self) -> Reply:
        return Reply([self.phrase("confirm_declined")], [self.human_button()], source={"source": "clarify"})

    def fallback_human(self) -> Reply:
        counter = self.counter_for(None)
        lines = [self.phrase("fallback_human"),
                 self.phrase("counter_line", counter=self.t(counter.name), place=self.t(counter.place)),
                 self.phrase("phone_line", phone=counter.phone)]
        return Reply(lines, [self.human_button()], source={"source": "fallback"})
