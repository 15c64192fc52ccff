"""The admin API's request and response bodies (bot/admin/api.py, faq_api.py, models_api.py),
declared once: the handlers receive them validated, and `madoguchi openapi` writes them into
bot/admin/openapi.json. The procedure editor's bodies live in bot/admin/edit_body.py.

A form (a procedure's, an FAQ entry's) is checked apart by its own checker, which lists every
problem next to its field (422); here it is only documented (`checked_apart`).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from pydantic import Extra, Field, StrictBool, StrictStr, validator

from bot.apidoc import Body, Reply, Text
from bot.speech.answers import SPOKEN_LANGUAGES

MAX_EXAMPLES_PER_REQUEST = 50
MAX_ID_CHARS = 100
MAX_VERSION_CHARS = 200  # a file version is a digest (bot/admin/history.py)
MAX_FILENAME_CHARS = 200
MAX_MISSED_CHARS = 10_000  # a resident's message, whatever MADOGUCHI_MAX_MESSAGE_CHARS a city chose


class MissedText(Text):
    max_length = MAX_MISSED_CHARS


class FileName(Text):
    max_length = MAX_FILENAME_CHARS


# --- requests -----------------------------------------------------------------------------------
class FaqForm(Body):
    """An FAQ entry's form (what GET /faq/{entry_id} returns as `data`), checked by
    bot/admin/faq_editor.py `check_form`: a value of the wrong type is a 422 naming its field."""

    class Config:
        extra = Extra.forbid

    question: Optional[Dict[str, StrictStr]] = Field(None, description="by language: ja, en, easy")
    answer: Optional[Dict[str, StrictStr]] = Field(None, description="by language: ja, en, easy")
    variants: Optional[Dict[str, List[StrictStr]]] = Field(None, description="other wordings by language: ja, en")
    section: Optional[StrictStr]
    url: Optional[StrictStr]
    updated: Optional[StrictStr] = Field(None, description="YYYY-MM-DD")
    procedure: Optional[StrictStr] = Field(None, nullable=True)


class FaqSave(Body):
    class Config:
        checked_apart = {"data": FaqForm}

    version: StrictStr = Field(..., min_length=1, max_length=MAX_VERSION_CHARS,
                               description="the file's version from GET")
    data: Any


class FaqCreate(Body):
    class Config:
        checked_apart = {"data": FaqForm}

    category: StrictStr = Field(..., min_length=1, max_length=MAX_ID_CHARS)
    id: StrictStr = Field(..., min_length=1, max_length=MAX_ID_CHARS)
    data: Any
    missed: List[MissedText] = Field([], max_items=MAX_EXAMPLES_PER_REQUEST,
                                     description="the inbox questions the entry answers: they leave the inbox")


class FaqUpload(Body):
    filename: FileName
    content_base64: StrictStr = Field(..., min_length=1,
                                      description="the CSV (UTF-8 or Shift_JIS/CP932) or JSON file's bytes, base64")
    mapping: Optional[Dict[str, StrictStr]] = Field(
        None, nullable=True, description="field → column name; fields: id, question, answer, category, section, "
                                         "url, updated, variants, question_en, answer_en")
    category: Optional[StrictStr] = Field(None, nullable=True, max_length=MAX_ID_CHARS,
                                          description="category id for rows without one")
    section: Optional[StrictStr] = Field(None, nullable=True, max_length=MAX_ID_CHARS,
                                         description="counter id for rows without a section (担当課)")


class Restore(Body):
    version: StrictStr = Field(..., min_length=1, max_length=MAX_VERSION_CHARS,
                               description="the version of the file as you see it now")


class MissedTexts(Body):
    texts: List[MissedText] = Field(..., min_items=1, max_items=MAX_EXAMPLES_PER_REQUEST)


class MissedToExamples(MissedTexts):
    intent: StrictStr = Field(..., max_length=MAX_ID_CHARS)
    version: Optional[StrictStr] = Field(None, nullable=True, max_length=MAX_VERSION_CHARS,
                                         description="the intent file's version, to refuse a stale edit")


class Train(Body):
    force: StrictBool = Field(False, description="train even when a model of this catalog exists")


class SpokenLanguage(Body):
    """Only the speech preview's: which voice reads the answer (ja when left out)."""

    language: Optional[StrictStr] = Field(None, nullable=True, enum=list(SPOKEN_LANGUAGES))

    @validator("language")
    def _spoken(cls, value: Optional[str]) -> Optional[str]:  # noqa: N805 (pydantic passes the class)
        if value and value not in SPOKEN_LANGUAGES:
            raise ValueError(f"must be one of {', '.join(SPOKEN_LANGUAGES)}")
        return value


# --- responses ----------------------------------------------------------------------------------
class AdminUser(Reply):
    username: StrictStr
    role: StrictStr
    display_name: Optional[StrictStr] = Field(None, nullable=True)


class AdminSession(Reply):
    logged_in: StrictBool
    csrf_token: Optional[StrictStr] = Field(None, nullable=True, description="null for an account that is no admin")
    user: Optional[AdminUser] = None


class ProcedureItem(Reply):
    id: StrictStr
    title: StrictStr


class ProcedureList(Reply):
    procedures: List[ProcedureItem]


class Saved(Reply):
    version: StrictStr
    saved: List[Any] = Field(..., description="the history ids of the versions written")


class Checked(Reply):
    problems: List[Any]
    diff: StrictStr


class Previewed(Reply):
    problems: List[Any]
    answers: Optional[Dict[str, Any]] = Field(..., nullable=True)


class Spoken(Reply):
    url: StrictStr
    seconds: float
    engine: StrictStr


class Versions(Reply):
    path: StrictStr
    versions: List[Any]


class Version(Reply):
    path: StrictStr
    diff: Optional[StrictStr] = None


class Restored(Reply):
    path: StrictStr
    version: StrictStr
    saved: List[Any]


class Freshness(Reply):
    today: StrictStr
    owners: List[Any]


class FaqList(Reply):
    categories: List[Any]
    today: Optional[StrictStr] = None
    stale: Optional[int] = None


class FaqEntry(Reply):
    id: StrictStr
    path: Optional[StrictStr] = None
    version: StrictStr
    data: Dict[str, Any]


class FaqCreated(Reply):
    id: StrictStr
    path: StrictStr
    version: StrictStr
    saved: List[Any]
    missed_resolved: int


class ImportPlan(Reply):
    counts: Dict[str, Any]
    changes: List[Any]
    files: List[Any]
    problems: List[Any]
    summary: Optional[List[Any]] = None


class MissedInbox(Reply):
    groups: List[Any]
    intents: List[Any]
    titles: Optional[Dict[str, Any]] = None


class ExamplesAdded(Reply):
    intent: StrictStr
    path: Optional[StrictStr] = None
    added: int
    saved: Optional[List[Any]] = None


class Dismissed(Reply):
    dismissed: int


class Analytics(Reply):
    first: StrictStr = Field(..., alias="from")
    last: StrictStr = Field(..., alias="to")


class ModelList(Reply):
    running: Optional[int] = Field(..., nullable=True)
    job: Optional[StrictStr] = Field(..., nullable=True)
    models: List[Any]


class JobStarted(Reply):
    job: StrictStr


class JobView(Reply):
    id: StrictStr
    kind: StrictStr
    state: StrictStr
    phase: Optional[StrictStr] = None
    progress: Optional[float] = None
    message: Optional[StrictStr] = None


class JobList(Reply):
    jobs: List[JobView]


class Evaluation(Reply):
    model: Dict[str, Any]
    running: Optional[Dict[str, Any]] = Field(None, nullable=True)
