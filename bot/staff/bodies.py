"""The staff API's request and response bodies (bot/staff/api.py), declared once: the handlers
receive them validated, and `madoguchi openapi` writes them into bot/staff/openapi.json."""
from __future__ import annotations

from typing import Optional

from pydantic import Field, StrictBool, StrictStr

from bot.apidoc import Body, Reply, Text

MAX_USERNAME_CHARS = 64  # as an account's (bot/staff/accounts.py)
MAX_PASSWORD_CHARS = 1024  # bcrypt reads 72 bytes; anything far longer is no password of ours
MAX_REPLY_CHARS = 2000
MAX_NOTE_CHARS = 2000
MAX_ID_CHARS = 100


class ReplyText(Text):
    max_length = MAX_REPLY_CHARS


class NoteText(Text):
    max_length = MAX_NOTE_CHARS


class Login(Body):
    username: StrictStr = Field(..., max_length=MAX_USERNAME_CHARS)
    password: StrictStr = Field(..., max_length=MAX_PASSWORD_CHARS)


class StaffMessage(Body):
    """A clerk's reply (stripped): delivered on the resident's own channel."""

    text: ReplyText


class ClosingNote(Body):
    """Why the conversation ends (stripped; kept with the handoff, redacted)."""

    note: NoteText


class Transfer(Body):
    """The id of the section (counter) whose queue takes the conversation."""

    section: StrictStr = Field(..., max_length=MAX_ID_CHARS)


class CallbackDone(Body):
    """What came of the call-back ("callback done" when left out or empty)."""

    note: Optional[StrictStr] = Field(None, max_length=MAX_NOTE_CHARS, nullable=True)


class User(Reply):
    username: StrictStr
    role: StrictStr
    display_name: Optional[StrictStr] = Field(None, nullable=True)


class LoggedIn(Reply):
    csrf_token: StrictStr
    user: User


class Done(Reply):
    ok: StrictBool


class Delivered(Reply):
    ok: StrictBool
    delivered: StrictBool = Field(..., description="whether the resident's channel took the message now")


class Me(Reply):
    username: StrictStr
    display_name: Optional[StrictStr] = Field(None, nullable=True)
    role: StrictStr
    section: Optional[StrictStr] = Field(None, nullable=True)
    csrf_token: StrictStr


class SessionState(Reply):
    logged_in: StrictBool
    csrf_token: Optional[StrictStr] = Field(None, nullable=True)
    user: Optional[User] = None
