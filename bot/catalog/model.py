"""The catalog as typed, validated data (what `intents/` means once loaded)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

from bot.catalog.furigana import fill
from bot.catalog.keywords import Keywords
from bot.text import LANGUAGES

EXAMPLE_LANGUAGES: Tuple[str, ...] = ("ja", "en")
WAYS: Tuple[str, ...] = ("online", "convenience_store", "counter", "post", "other")
# The general counter (市民課): for questions about no procedure in particular.
DEFAULT_COUNTER = "shimin"

# Fixed ids (shared/procedures.md): evaluation sets are written against them.
PROCEDURE_IDS: Tuple[str, ...] = (
    "mynumber_apply", "mynumber_pickup", "mynumber_lost", "mynumber_card_renewal",
    "mynumber_cert_renewal", "mynumber_pin", "mynumber_health_insurance", "mynaportal",
    "convenience_store_certificates", "moving_in", "moving_out", "moving_within",
    "residence_certificate", "seal_registration", "tax_certificate", "family_register",
    "birth_registration", "death_procedures", "marriage_registration", "child_allowance",
    "national_health_insurance", "nursing_care",
)
CONVERSATION_INTENTS: Tuple[str, ...] = (
    "greet", "goodbye", "thank", "affirm", "deny", "request_human", "repeat",
    "counter_hours", "counter_location", "ask_documents", "ask_fee", "ask_deadline",
    "ask_online", "out_of_scope", "bot_challenge",
)
# What the phone line says besides the dialogue's answers (channels/voice.py reads these
# phrases): a catalog without one of them, in ja, en and easy, does not load.
PHONE_PROMPTS: Tuple[str, ...] = (
    "phone_greeting", "phone_menu", "phone_menu_mynumber", "phone_menu_certificates", "phone_menu_moving",
    "phone_menu_birth_death", "phone_submenu", "phone_submenu_item", "phone_ask_again", "phone_more",
    "phone_next", "phone_sms_offer", "phone_sms_sent", "phone_sms_failed", "phone_sms_unavailable",
    "phone_slow_on", "phone_slow_off", "phone_nothing_yet", "phone_transfer", "phone_callback_offer",
    "phone_no_callback_number", "phone_callback_declined", "phone_goodbye", "phone_counter_number",
    "phone_slip_ask", "phone_slip_continue", "phone_slip_continue_general", "phone_slip_not_found",
    "phone_slip_limit", "phone_staff_notice", "phone_language_offer", "phone_error",
    "phone_faq_sms_offer", "phone_faq_sms_text", "phone_route_transfer_offer",
)
# What the channels and the server say themselves, before (or instead of) the dialogue: bad
# input, a failure, a busy server. Said in Japanese and English together (`Catalog.bilingual`)
# where the resident's language is not known yet; a catalog without one of them does not load.
NOTICE_PHRASES: Tuple[str, ...] = (
    "notice_non_text", "notice_message_too_long", "notice_empty_message", "notice_invalid_message",
    "notice_edited", "notice_expired_button", "notice_error", "notice_body_too_large",
    "notice_too_many_pages", "notice_server_busy",
)
# Command words every catalog defines (`keywords:` in phrases.yml, bot/catalog/keywords.py):
# the handoff gate's `cancel` and the privacy command `delete`.
KEYWORD_COMMANDS: Dict[str, str] = {
    "cancel": "the handoff gate stops a wait for a person or a call-back with these words",
    "delete": "the messaging channels delete the conversation on these words",
}
# The languages said together before the resident's language is known.
BILINGUAL: Tuple[str, ...] = ("ja", "en")


@dataclass(frozen=True)
class Localized:
    """One text in the three languages; `easy` keeps furigana markup."""

    ja: str
    en: str
    easy: str

    def get(self, language: str) -> str:
        return getattr(self, language if language in LANGUAGES else "ja")


@dataclass(frozen=True)
class LocalizedList:
    ja: Tuple[str, ...]
    en: Tuple[str, ...]
    easy: Tuple[str, ...]

    def get(self, language: str) -> Tuple[str, ...]:
        return getattr(self, language if language in LANGUAGES else "ja")


@dataclass(frozen=True)
class Fee:
    yen: int
    text: Localized


@dataclass(frozen=True)
class Procedure:
    id: str
    section: str
    owner: str
    review_by: dt.date
    human_only: bool
    title: Localized
    lead: Localized  # the direct answer: one sentence with the key facts, said first
    summary: Localized
    audience: Localized
    deadline: Localized
    documents: LocalizedList
    fee: Fee
    how: Dict[str, Localized]
    related: Tuple[str, ...]
    examples: Dict[str, Tuple[str, ...]]
    source: str


@dataclass(frozen=True)
class HoursRule:
    weekdays: Tuple[int, ...]
    open: dt.time
    close: dt.time
    saturdays_of_month: Tuple[int, ...] = ()
    note: Optional[Localized] = None


@dataclass(frozen=True)
class Counter:
    """A section of the city hall, or an outside office residents are sent to (総合案内's directory)."""

    id: str
    name: Localized
    place: Localized
    phone: str
    hours: Tuple[HoursRule, ...]
    # Words of the matters it handles (「ごみ」「粗大ごみ」…): what routes a question here.
    topics: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    outside: bool = False  # not part of the city hall (年金事務所, 運転免許センター, …)
    address: Optional[Localized] = None  # for an outside office: where it is


@dataclass(frozen=True)
class FaqEntry:
    """One entry of the city's FAQ: answered verbatim, with its source and date."""

    id: str
    category: str  # the FAQ file's stem (intents/faq/<category>.yml)
    section: str  # counter id (city.yml) that handles the matter
    question: Dict[str, str]  # language → text; `ja` always present
    answer: Dict[str, str]  # language → the city's own text; `ja` always present
    variants: Dict[str, Tuple[str, ...]]  # more ways residents ask it (ja, en)
    url: str
    updated: dt.date
    procedure: Optional[str] = None  # set when the entry is about a catalog procedure

    def text(self, field_name: str, language: str) -> str:
        """`question`/`answer` in `language`, else Japanese (the city's original)."""
        texts = getattr(self, field_name)
        return texts.get(language) or texts["ja"]


@dataclass(frozen=True)
class FaqCategory:
    id: str
    title: Localized


@dataclass(frozen=True)
class City:
    name: Localized
    address: Localized
    access: Localized
    phone: str
    timezone: str
    year_end_closure: Tuple[str, ...]


@dataclass(frozen=True)
class ConversationIntent:
    name: str
    examples: Dict[str, Tuple[str, ...]]
    reply: Optional[Localized]
    human_only: bool = False


@dataclass(frozen=True)
class LifeEventStep:
    procedure: Optional[str] = None
    note: Optional[Localized] = None


@dataclass(frozen=True)
class LifeEvent:
    id: str
    title: Localized
    steps: Tuple[LifeEventStep, ...]
    examples: Dict[str, Tuple[str, ...]]


@dataclass
class Catalog:
    city: City
    counters: Dict[str, Counter]
    procedures: Dict[str, Procedure]
    conversation: Dict[str, ConversationIntent]
    life_events: Dict[str, LifeEvent]
    phrases: Dict[str, Localized] = field(default_factory=dict)
    faq: Dict[str, FaqEntry] = field(default_factory=dict)
    faq_categories: Dict[str, FaqCategory] = field(default_factory=dict)
    keywords: Keywords = field(default_factory=Keywords)

    def intent_examples(self) -> Dict[str, Dict[str, Tuple[str, ...]]]:
        """Every trainable intent with its examples, in a stable order."""
        result: Dict[str, Dict[str, Tuple[str, ...]]] = {}
        for pid in sorted(self.procedures):
            result[pid] = self.procedures[pid].examples
        for name in sorted(self.conversation):
            result[name] = self.conversation[name].examples
        for name in sorted(self.life_events):
            result[name] = self.life_events[name].examples
        return result

    def counter_for(self, procedure_id: Optional[str]) -> Counter:
        """The counter that handles `procedure_id`; the general counter for none or an unknown id."""
        procedure = self.procedures.get(procedure_id or "")
        section = procedure.section if procedure else DEFAULT_COUNTER
        return self.counters.get(section) or self.counters.get(DEFAULT_COUNTER) or next(iter(self.counters.values()))

    def phrase(self, key: str, language: str, **values: str) -> str:
        return fill(self.phrases[key].get(language), **values)

    def bilingual(self, key: str, separator: str = "\n", **values: str) -> str:
        """The phrase in Japanese and English together: what a channel says before it knows
        the resident's language (a notice, an error message)."""
        return separator.join(self.phrase(key, language, **values) for language in BILINGUAL)
