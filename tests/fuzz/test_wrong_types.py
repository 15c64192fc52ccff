"""Every request body the two OpenAPI documents declare refuses a value of the wrong type or size at
its field, over real HTTP. For each operation with a body and each of its properties, a body that is
right but for that one value gets a 4xx the operation lists, names the field (`field`, or a problem
at it), and is never coerced: "false" is no boolean, a list no text, 7 no list, a text one character
over its cap no text. Written from the documents, so a new body is covered without a new test.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from bot.admin.openapi import OPENAPI_PATH as ADMIN_OPENAPI
from bot.staff.api import OPENAPI_PATH as STAFF_OPENAPI

WRONG: Dict[str, List[Any]] = {"string": [7, ["x"], True], "boolean": ["false", 1, "true"],
                               "array": ["x", {"x": 1}, 7], "object": ["x", [1], True], "integer": ["1", True]}
PATH_VALUES = {"cid": "rest:wrongtypes", "pid": "death_procedures", "entry_id": "no_such_entry", "version_id": "1"}
Case = Tuple[str, str, str, str, Any]  # (api, method, path, property, value)


def resolve(document: Dict[str, Any], schema: Dict[str, Any]) -> Dict[str, Any]:
    while "$ref" in schema or ("allOf" in schema and len(schema["allOf"]) == 1):
        schema = schema["allOf"][0] if "allOf" in schema else schema
        if "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def valid(document: Dict[str, Any], schema: Dict[str, Any]) -> Any:
    """The smallest value the schema accepts (enough for the other fields of a body)."""
    schema = resolve(document, schema)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if kind == "string":
        return "x" * max(1, schema.get("minLength", 1))
    if kind == "boolean":
        return False
    if kind in ("integer", "number"):
        return 0
    if kind == "array":
        return [valid(document, schema.get("items", {}))] * schema.get("minItems", 0)
    properties = schema.get("properties", {})
    return {name: valid(document, properties[name]) for name in schema.get("required", [])}


def cases() -> Iterator[Case]:
    for api, path_of in (("staff", STAFF_OPENAPI), ("admin", ADMIN_OPENAPI)):
        document = json.loads(path_of.read_text(encoding="utf-8"))
        for path, item in document["paths"].items():
            for method, operation in item.items():
                if "requestBody" not in operation:
                    continue
                body = resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])
                for name, schema in body["properties"].items():
                    kind = resolve(document, schema).get("type", "object")
                    for value in WRONG[kind]:
                        yield api, method, path, name, value
                    if kind == "string" and "maxLength" in schema:
                        yield api, method, path, name, "あ" * (schema["maxLength"] + 1)


def base_body(api: str, method: str, path: str) -> Dict[str, Any]:
    document = json.loads((STAFF_OPENAPI if api == "staff" else ADMIN_OPENAPI).read_text(encoding="utf-8"))
    operation = document["paths"][path][method]
    return valid(document, operation["requestBody"]["content"]["application/json"]["schema"])


@pytest.mark.parametrize("api,method,path,name,value", list(cases()),
                         ids=lambda part: part if isinstance(part, str) and len(part) < 40 else None)
def test_a_value_of_the_wrong_type_or_size_is_refused_at_its_field(api, method, path, name, value, staff_clerk,
                                                                   admin_clerk):
    clerk = staff_clerk if api == "staff" else admin_clerk
    document = json.loads((STAFF_OPENAPI if api == "staff" else ADMIN_OPENAPI).read_text(encoding="utf-8"))
    listed = {int(status) for status in document["paths"][path][method]["responses"]}
    url = f"/{api}/api" + path.format(**PATH_VALUES)
    body = dict(base_body(api, method, path), **{name: value})
    reply = clerk.client.request(method.upper(), url, json=body, headers={"X-CSRF-Token": clerk.csrf})
    assert 400 <= reply.status_code < 500 and reply.status_code not in (401, 403), (reply.status_code, reply.text)
    assert reply.status_code in listed, (reply.status_code, sorted(listed))
    refused = reply.json()
    named = {refused.get("field")} | {problem["field"] for problem in refused.get("problems", [])}
    assert name in named, refused
