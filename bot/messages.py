"""The bot message: one dict shape for everything the assistant or a clerk says to a resident.

`bot.replies.to_message` builds it, the handoff side stores it as a Rasa `bot` event, and
every channel's `push` sends it (see `bot.delivery`). It is shaped like a reply of Rasa's
REST channel (`text`, `buttons`, `image`) plus what our channels need to render it well.
A `TypedDict`, not a class: it crosses into Rasa (`dispatcher.utter_message(**message)`,
event metadata) and out as JSON unchanged.
"""
from __future__ import annotations

from typing import List, TypedDict


class MessageButton(TypedDict):
    title: str  # plain text (kana only in easy mode): every platform can show it
    payload: str  # what the button sends back, e.g. "/ask_fee" or "/request_human"


class StaffLabel(TypedDict):
    name: str  # the clerk's display name, shown above a staff reply


class AnswerSource(TypedDict, total=False):
    """Where a bot message's content comes from, stored with it and returned to clients:
    `procedure` (id), `faq` (id, url, updated, section), `faq_choice` (ids), `route` (section),
    `clarify` (id), `fallback`, `conversation` (intent), `handoff`, `staff`."""

    source: str
    id: str
    ids: List[str]
    url: str
    updated: str
    section: str
    intent: str


class MessageLink(TypedDict):
    title: str
    url: str


class _MessageText(TypedDict):
    text: str  # plain text for every channel (furigana in parentheses in easy mode)


class BotMessage(_MessageText, total=False):
    lang: str  # the HTML `lang` of the text: "ja" or "en"
    variant: str  # the resident's language choice: "ja", "en" or "easy"
    ruby: str  # the text with furigana markup, for channels that can show ruby
    image: str  # e.g. a visit slip's QR code as a data URL
    buttons: List[MessageButton]
    staff: StaffLabel  # present on a clerk's own words only
    source: AnswerSource  # where the content comes from (bot/answering)
    link: MessageLink  # a page the answer quotes (the FAQ entry's source)
