"""The body of a procedure edit (PUT, check, preview, speech), declared once with strict types.

The form is written into the YAML as it comes (bot/admin/editor_form.py), so a value of the
wrong type must be refused before that: `"human_only": "false"` would be saved as true, a
list where a text belongs as its Python text, and a text where a list belongs would be
dropped without a word. Strict pydantic types refuse them instead, with the field named in
the checker's own terms (`title.ja`, `documents.easy[1]`), so the console shows the error
next to the field. What the types cannot say (a date that does not exist, kanji without
furigana, a text too long) is the catalog checker's (bot/catalog/load.py), which runs next.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

from pydantic import BaseModel, Extra, Field, StrictBool, StrictInt, StrictStr, ValidationError, validator

from bot.apidoc import field_name, own_description
from bot.speech.answers import SPOKEN_LANGUAGES

MAX_VERSION_CHARS = 200  # a file version is a digest (bot/admin/history.py)
MAX_MOVES = 500  # examples moved in one save


class _Strict(BaseModel):
    """Unknown keys refused; a key may be left out, but null is never a value."""

    class Config:
        extra = Extra.forbid
        schema_extra = own_description

    @validator("*", pre=True)
    def _not_null(cls, value: Any) -> Any:  # noqa: N805 (pydantic passes the class)
        if value is None:
            raise ValueError("must not be null")
        return value


class LocalizedText(_Strict):
    ja: Optional[StrictStr]
    en: Optional[StrictStr]
    easy: Optional[StrictStr]


class LocalizedTexts(_Strict):
    ja: Optional[List[StrictStr]]
    en: Optional[List[StrictStr]]
    easy: Optional[List[StrictStr]]


class FeeForm(_Strict):
    yen: Optional[Union[StrictInt, StrictStr]]  # the console's input sends text: the checker reads it
    ja: Optional[StrictStr]
    en: Optional[StrictStr]
    easy: Optional[StrictStr]


class WaysForm(_Strict):
    online: Optional[LocalizedText]
    convenience_store: Optional[LocalizedText]
    counter: Optional[LocalizedText]
    post: Optional[LocalizedText]
    other: Optional[LocalizedText]


class ExamplesForm(_Strict):
    ja: Optional[List[StrictStr]]
    en: Optional[List[StrictStr]]


class ProcedureForm(_Strict):
    """A procedure's form (what GET /procedures/{pid} returns as `data`): every field a procedure file
    may have (bot.catalog.load.PROCEDURE_FIELDS, a test keeps them equal). A value of the wrong type
    is a problem at its field (422); the catalog checker judges the rest."""

    id: Optional[StrictStr]
    section: Optional[StrictStr]
    owner: Optional[StrictStr]
    review_by: Optional[StrictStr]
    human_only: Optional[StrictBool]
    title: Optional[LocalizedText]
    lead: Optional[LocalizedText]
    summary: Optional[LocalizedText]
    audience: Optional[LocalizedText]
    deadline: Optional[LocalizedText]
    documents: Optional[LocalizedTexts]
    fee: Optional[FeeForm]
    how: Optional[WaysForm]
    related: Optional[List[StrictStr]]
    examples: Optional[ExamplesForm]


class Move(_Strict):
    """An example moved to another intent when the edit is saved."""

    text: StrictStr
    to: StrictStr


class ProcedureEdit(_Strict):
    """An edit: the form, and what comes with it. A wrong shape here is a bad request (400); other
    keys are ignored."""

    class Config:
        extra = Extra.ignore
        checked_apart = {"data": ProcedureForm}  # its errors are the form's, in the checker's shape (422)

    data: Dict[str, Any]
    version: Optional[StrictStr] = Field(None, max_length=MAX_VERSION_CHARS,
                                         description="the file's version from GET (required to save)")
    moves: Optional[List[Move]] = Field(None, max_items=MAX_MOVES,
                                        description="examples moved to another intent when the edit is saved")
    language: Optional[StrictStr] = Field(None, description="the speech preview's (ja when left out)")


class ProcedureSave(ProcedureEdit):
    """A save needs the version the form was read at (a stale edit is refused, 409)."""

    version: StrictStr = Field(..., min_length=1, max_length=MAX_VERSION_CHARS,
                               description="the file's version from GET")


class ProcedureSpeech(ProcedureEdit):
    language: Optional[StrictStr] = Field(None, enum=list(SPOKEN_LANGUAGES),
                                          description="which voice reads the answer (ja when left out)")

    @validator("language")
    def _spoken(cls, value: Optional[str]) -> Optional[str]:  # noqa: N805 (pydantic passes the class)
        if value and value not in SPOKEN_LANGUAGES:
            raise ValueError(f"must be one of {', '.join(SPOKEN_LANGUAGES)}")
        return value


_MESSAGES = {
    "type_error.str": "must be a text",
    "type_error.bool": "must be true or false",
    "value_error.strictbool": "must be true or false",
    "type_error.list": "must be a list of texts",
    "type_error.dict": "must be a mapping",
    "type_error.integer": "must be a whole number",
    "value_error.extra": "unknown field",
    "value_error.missing": "missing",
}


def problems_of(error: ValidationError, file: str) -> List[Dict[str, Any]]:
    """The checker's problem shape ({file, line, field, message}), one per wrong value."""
    problems, seen = [], set()
    for item in error.errors():
        location = tuple(part for part in item["loc"] if part != "__root__")
        # A union (fee.yen) reports once per member type: one problem is enough.
        location = location[:-1] if location and location[-1] in ("StrictInt", "StrictStr") else location
        field = field_name(location)
        if field in seen:
            continue
        seen.add(field)
        message = _MESSAGES.get(item["type"], item["msg"])
        if field.startswith("fee.yen"):
            message = "must be a whole number of yen"
        problems.append({"file": file, "line": 0, "field": field, "message": message})
    return problems


def form_problems(data: Dict[str, Any], file: str) -> List[Dict[str, Any]]:
    """Wrong types in the form, in the checker's shape (empty when every value has its type)."""
    try:
        ProcedureForm.parse_obj(data)
    except ValidationError as error:
        return problems_of(error, file)
    return []
