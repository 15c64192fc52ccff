"""Declared routes (bot/apidoc.py) without a server: a body of the wrong type or size never reaches
the handler and is refused with the route's status, naming the field; the document is generated
from the declarations, and a route without one cannot be documented."""
from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any, List, Optional

import pytest
from pydantic import Field, StrictBool, StrictStr
from sanic import Blueprint, response

from bot.apidoc import Answer, ApiInfo, Body, Refusal, Text, failure, openapi_document, operation
from bot.errors import error_body, error_response


class Note(Text):
    max_length = 5


class Example(Body):
    """An example body."""

    note: Note
    urgent: StrictBool = False
    tags: List[StrictStr] = Field([], max_items=2)
    owner: Optional[StrictStr] = Field(None, nullable=True)


def request_with(body: Any) -> Any:
    raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    return SimpleNamespace(json=parsed, body=raw)


def declared(refused: Optional[Refusal] = None, too_big: Optional[Refusal] = None):
    seen: List[Example] = []
    answers = {200: Answer("OK"), 400: failure("bad"), 413: failure("big"), 422: failure("wrong")}

    @operation("Example", tags=["t"], body=Example, refused=refused, too_big=too_big, answers=answers)
    async def handler(_request: Any, body: Example) -> Any:
        seen.append(body)
        return response.json({"ok": True})

    return handler, seen


def call(handler, body: Any):
    reply = asyncio.run(handler(request_with(body)))
    return reply.status, json.loads(reply.body)


@pytest.mark.parametrize("body,field", [
    ({"note": 7}, "note"), ({"note": ["a"]}, "note"), ({"note": " "}, "note"), ({}, "note"),
    ({"note": "ok", "urgent": "false"}, "urgent"), ({"note": "ok", "urgent": 1}, "urgent"),
    ({"note": "ok", "tags": "a"}, "tags"), ({"note": "ok", "tags": ["a", 3]}, "tags[1]"),
    (["not", "an", "object"], "note"), (b"{not json", "note")])
def test_a_wrong_value_is_refused_at_its_field_and_the_handler_never_runs(body, field):
    handler, seen = declared()
    status, refused = call(handler, body)
    assert status == 422 and refused["error"] == "invalid_body" and refused["field"] == field, refused
    assert refused["message"].startswith(f"{field}: ")
    assert seen == []


def test_the_route_chooses_its_refusals():
    handler, _ = declared(refused=Refusal(400, "empty_note"), too_big=Refusal(413, "note_too_long"))
    assert call(handler, {"note": 5}) == (400, {"error": "empty_note", "message": "note: must be a text",
                                                "field": "note"})
    status, refused = call(handler, {"note": "123456"})
    assert status == 413 and refused["error"] == "note_too_long" and "at most 5" in refused["message"]
    status, refused = call(handler, {"note": "ok", "tags": ["a", "b", "c"]})
    assert status == 413 and refused["field"] == "tags"
    handler, _ = declared(refused=Refusal(422, "invalid", problems=True))
    status, refused = call(handler, {"note": 5, "urgent": "x"})
    assert status == 422 and [p["field"] for p in refused["problems"]] == ["note", "urgent"]


def test_a_right_body_arrives_typed_and_stripped():
    handler, seen = declared()
    assert call(handler, {"note": "  ok  ", "urgent": True, "owner": None, "other": "ignored"}) == (200, {"ok": True})
    assert seen[0].note == "ok" and seen[0].urgent is True and seen[0].owner is None


def test_a_refusal_status_must_be_documented():
    with pytest.raises(ValueError, match="422"):
        operation("x", tags=[], body=Example, answers={200: Answer("OK")})


def test_the_document_comes_from_the_routes_and_declarations():
    bp = Blueprint("apidoc_example", url_prefix="/example/api")

    @bp.post("/things/<thing_id:int>")
    @operation("Change a thing", tags=["things"], body=Example, answers={200: Answer("Changed", Example),
                                                                        422: failure("wrong")})
    async def change(_request: Any, thing_id: int, body: Example) -> Any:
        return response.json({})

    info = ApiInfo(title="t", description="d", prefix="/example/api", cookie="c", not_logged_in="401",
                   forbidden="403")
    document = openapi_document(info, [bp])
    operation_document = document["paths"]["/things/{thing_id}"]["post"]
    assert operation_document["parameters"][0]["schema"]["type"] == "integer"
    assert "security" not in operation_document and set(operation_document["responses"]) == {"200", "413", "422"}
    schema = document["components"]["schemas"]["Example"]
    assert schema["required"] == ["note"] and schema["description"] == "An example body."
    assert schema["properties"]["note"] == {"type": "string", "minLength": 1, "maxLength": 5}
    assert schema["properties"]["owner"]["nullable"] is True
    assert "title" not in json.dumps(schema)

    @bp.get("/undeclared")
    async def undeclared(_request: Any) -> Any:
        return response.json({})

    with pytest.raises(ValueError, match="no @operation"):
        openapi_document(info, [bp])


def test_one_error_shape():
    assert error_body("stale", "It changed.", path="a.yml") == {"error": "stale", "message": "It changed.",
                                                                "path": "a.yml"}
    reply = error_response(429, "rate_limited", "待って", headers={"Retry-After": "3"}, ensure_ascii=False)
    assert reply.status == 429 and reply.headers["Retry-After"] == "3"
    assert json.loads(reply.body) == {"error": "rate_limited", "message": "待って"}
