"""Declared JSON routes: what a route accepts and answers, said once and used twice.

A handler is declared with `@operation(...)` right above it (under its Sanic route and the
consoles' `authenticated`). The declaration's body model (pydantic, strict types, sizes capped)
validates the request before the handler runs: a value of the wrong type or size is refused with
the route's documented status, naming the field, never coerced ("false" is not false, a list is
not a text, 20,000 characters are not a note). The same declarations, read from the routes Sanic
resolves, generate the API's OpenAPI 3.0 document (`madoguchi openapi`), so the document cannot
drift from the code: tests/test_openapi_sync.py compares the generated and the committed one.
"""
from __future__ import annotations

import functools
import itertools
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Type, Union

from pydantic import BaseModel, ConstrainedStr, Extra, StrictStr, ValidationError
from sanic import Blueprint, Sanic
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.errors import error_response
from bot.text import without_lone_surrogates

OPERATION = "__madoguchi_operation__"  # the declaration, on the handler Sanic routes to
AUTHENTICATION = "__madoguchi_authentication__"  # set by `authenticated`: the role asked for ("" for any account)
OPENAPI_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SCHEMAS = "#/components/schemas/"
LARGEST_INTEGER_ID = 2 ** 53  # an integer path parameter the documents promise to accept (JSON's exact integers)
_ORDER = itertools.count()  # declaration order: the document lists paths as the code declares them
_SANIC_PARAMETER = re.compile(r"<([^:>]+)(?::([^>]*))?>")
# Error types of a value that is too big, for routes whose documented refusal of size differs (413).
TOO_BIG = ("value_error.any_str.max_length", "value_error.list.max_items")
_MESSAGES = {
    "type_error.str": "must be a text",
    "type_error.bool": "must be true or false",
    "value_error.strictbool": "must be true or false",
    "type_error.list": "must be a list",
    "type_error.dict": "must be an object",
    "type_error.integer": "must be a whole number",
    "value_error.extra": "unknown field",
    "value_error.missing": "is required",
    "type_error.none.not_allowed": "must not be null",
}


# --- what a body may be --------------------------------------------------------------------------
def own_description(schema: Dict[str, Any], model: Type[BaseModel]) -> None:
    """A model's description is its own docstring (pydantic would inherit a base class's)."""
    if not model.__dict__.get("__doc__"):
        schema.pop("description", None)


class Body(BaseModel):
    """A request body: strict types; keys it does not name are ignored (a newer console may send more)."""

    class Config:
        extra = Extra.ignore
        schema_extra = own_description


def checked_apart(model: Type[BaseModel]) -> Dict[str, Type[BaseModel]]:
    """A body's fields that the handler checks itself (a form with its own problem list), each with
    the model that documents it: `class Config: checked_apart = {"data": ProcedureForm}`."""
    return dict(getattr(model.__config__, "checked_apart", {}))


class Reply(BaseModel):
    """A response body, documented (handlers build their JSON; the fuzz run checks it against this)."""

    class Config:
        extra = Extra.allow
        schema_extra = own_description


class Text(ConstrainedStr):
    """A non-blank text, stripped (`strict`: a number or a list is no text)."""

    strict = True
    strip_whitespace = True
    min_length = 1


class Error(Reply):
    """The one error shape: a code to branch on, a sentence to read, and details some operations add
    (field: the wrong value's name; problems: every problem of an edit, next to its field)."""

    error: StrictStr
    message: StrictStr


def field_name(location: Sequence[Union[int, str]]) -> str:
    """("documents", "easy", 1) → "documents.easy[1]", as the catalog checker names fields."""
    name = ""
    for part in location:
        if part == "__root__":
            continue
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def problem_message(item: Mapping[str, Any]) -> str:
    """A pydantic error as a short sentence about the field ("must be a text", "at most 2000 characters")."""
    kind, context = item["type"], item.get("ctx") or {}
    if kind == "value_error.any_str.max_length":
        return f"is too long (at most {context.get('limit_value')} characters)"
    if kind == "value_error.any_str.min_length":
        return "must not be empty" if context.get("limit_value") == 1 else \
            f"is too short (at least {context.get('limit_value')} characters)"
    if kind == "value_error.list.max_items":
        return f"has too many items (at most {context.get('limit_value')})"
    if kind == "value_error.list.min_items":
        return f"needs at least {context.get('limit_value')} item(s)"
    return _MESSAGES.get(kind, str(item["msg"]))


def problems_of(error: ValidationError, file: str = "") -> List[Dict[str, Any]]:
    """Every wrong value in the catalog checker's problem shape ({file, line, field, message}), one per field."""
    problems: List[Dict[str, Any]] = []
    seen = set()
    for item in error.errors():
        name = field_name(item["loc"]) or "body"
        if name not in seen:
            seen.add(name)
            problems.append({"file": file, "line": 0, "field": name, "message": problem_message(item)})
    return problems


def json_object(request: Request) -> Dict[str, Any]:
    """The body as a JSON object; {} when it is missing, malformed or not an object (its fields are then missing)."""
    try:
        body = without_lone_surrogates(request.json, request.body or b"")
    except Exception:
        body = None
    return body if isinstance(body, dict) else {}


# --- declarations --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """One documented status: a description, and the body's model (a Reply), a JSON schema or nothing."""

    description: str
    body: Union[Type[BaseModel], Dict[str, Any], None] = None
    content_type: str = "application/json"
    headers: Mapping[str, Any] = field(default_factory=dict)


def failure(description: str, **headers: Any) -> Answer:
    """A refusal in the one error shape."""
    return Answer(description, Error, headers=headers)


OBJECT: Dict[str, Any] = {"type": "object"}  # a JSON object whose keys the document does not list


@dataclass(frozen=True)
class Refusal:
    """How a route refuses a body that does not validate: its status and error code, and whether
    every wrong value is listed as `problems` in the catalog checker's shape (for the editors,
    which show each problem next to its field)."""

    status: int
    code: str
    problems: bool = False


@dataclass(frozen=True)
class Parameter:
    """A path or query parameter; a path parameter not declared is documented from the route."""

    name: str
    where: str = "query"
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    description: Optional[str] = None


@dataclass(frozen=True)
class Operation:
    summary: str
    tags: Tuple[str, ...]
    answers: Mapping[int, Answer]
    body: Optional[Type[BaseModel]] = None
    refused: Refusal = Refusal(422, "invalid_body")
    too_big: Optional[Refusal] = None  # a text or list over its cap, when the route says so apart (413)
    parameters: Tuple[Parameter, ...] = ()
    description: Optional[str] = None
    order: int = 0

    def refusal(self, error: ValidationError) -> HTTPResponse:
        """The first wrong value, named: `{"error": code, "message": "text: must be a text", "field": "text"}`."""
        items = error.errors()
        name = field_name(items[0]["loc"]) or "body"
        refusal = self.too_big if self.too_big is not None and items[0]["type"] in TOO_BIG else self.refused
        details: Dict[str, Any] = {"field": name}
        if refusal.problems:
            details["problems"] = problems_of(error)
        return error_response(refusal.status, refusal.code, f"{name}: {problem_message(items[0])}", **details)


Handler = Callable[..., Any]


def operation(summary: str, *, tags: Sequence[str], answers: Mapping[int, Answer],
              body: Optional[Type[BaseModel]] = None, refused: Optional[Refusal] = None,
              too_big: Optional[Refusal] = None, parameters: Sequence[Parameter] = (),
              description: Optional[str] = None) -> Callable[[Handler], Handler]:
    """Declare a route's handler. With `body`, the handler receives the validated model as `body=`;
    a body that does not validate gets `refused` (default 422 `invalid_body`) and the handler never runs.
    Each refusal status must be among `answers`, with its description."""
    spec = Operation(summary, tuple(tags), dict(answers), body, refused or Refusal(422, "invalid_body"), too_big,
                     tuple(parameters), description, next(_ORDER))
    if body is not None:
        for refusal in filter(None, (spec.refused, too_big)):
            if refusal.status not in answers:
                raise ValueError(f"{summary!r}: refusal status {refusal.status} is not among the answers")

    def declare(handler: Handler) -> Handler:
        if body is None:
            setattr(handler, OPERATION, spec)
            return handler

        @functools.wraps(handler)
        async def validated(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            try:
                parsed = body.parse_obj(json_object(request))
            except ValidationError as wrong:
                return spec.refusal(wrong)
            return await handler(request, *args, body=parsed, **kwargs)

        setattr(validated, OPERATION, spec)
        return validated

    return declare


# --- the document ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ApiInfo:
    """What a whole API's document says besides its operations."""

    title: str
    description: str
    prefix: str
    cookie: str
    not_logged_in: str  # the 401 every authenticated operation may answer
    forbidden: str  # the 403 of a write (CSRF) or an admin-only operation
    version: str = "1.0.0"
    # The 413 of every operation with a body: the server's cap comes before any route (bot/server.py).
    too_large: str = "The body is over the server's cap, MADOGUCHI_MAX_BODY_BYTES (body_too_large)"


def routed_operations(prefix: str, blueprints: Sequence[Blueprint]) -> Iterator[Tuple[str, str, str, Handler]]:
    """(lower-case method, path under `prefix` in OpenAPI's spelling, Sanic's path, handler) of every
    route, as Sanic resolves them on a bare app (no server is started)."""
    with warnings.catch_warnings():  # Sanic 21.12 deprecates register=False; a bare app must stay out of the registry
        warnings.simplefilter("ignore", DeprecationWarning)
        app = Sanic("madoguchi_openapi_" + re.sub(r"[^a-z]", "_", prefix), register=False)
    for blueprint in blueprints:
        app.blueprint(blueprint)
    for route in app.router.routes:
        path = _SANIC_PARAMETER.sub(r"{\1}", "/" + route.path)
        if not path.startswith(prefix + "/"):
            raise ValueError(f"{path} is not under {prefix}")
        for method in sorted(route.methods):
            yield method.lower(), path[len(prefix):], route.path, route.handler


def route_parameters(sanic_path: str) -> Dict[str, Dict[str, Any]]:
    """The path parameters of a Sanic path, documented from their types (<version_id:int> → integer)."""
    parameters = {}
    for name, kind in _SANIC_PARAMETER.findall(sanic_path):
        schema: Dict[str, Any] = ({"type": "integer", "minimum": 0, "maximum": LARGEST_INTEGER_ID} if kind == "int"
                                  else {"type": "string", "minLength": 1})
        parameters[name] = {"name": name, "in": "path", "required": True, "schema": schema}
    return parameters


class _Components:
    """The schemas of the models the operations name, gathered once under components/schemas."""

    def __init__(self) -> None:
        self.schemas: Dict[str, Dict[str, Any]] = {}
        self.owners: Dict[str, Type[BaseModel]] = {}

    def ref(self, model: Type[BaseModel]) -> Dict[str, Any]:
        schema = model.schema(ref_template=SCHEMAS + "{model}")
        for name, documented_by in checked_apart(model).items():
            described = schema["properties"][name].get("description")
            schema["properties"][name] = ({"allOf": [self.ref(documented_by)], "description": described}
                                          if described else self.ref(documented_by))
        self._add(model.__name__, model, schema)
        return {"$ref": SCHEMAS + model.__name__}

    def _add(self, name: str, model: Optional[Type[BaseModel]], schema: Dict[str, Any]) -> None:
        definitions = schema.pop("definitions", {})
        if model is not None:
            owner = self.owners.setdefault(name, model)
            if owner is not model:
                raise ValueError(f"two models are called {name}: {owner.__module__} and {model.__module__}")
        self.schemas[name] = openapi_schema(schema)
        for inner, inner_schema in definitions.items():
            if inner not in self.schemas:
                self._add(inner, None, inner_schema)

    def schema_of(self, body: Union[Type[BaseModel], Dict[str, Any]]) -> Dict[str, Any]:
        return self.ref(body) if isinstance(body, type) else dict(body)


def openapi_schema(schema: Any) -> Any:
    """A pydantic JSON schema as OpenAPI 3.0 wants it: no generated titles (a property may be called
    `title`: only the keyword goes)."""
    if not isinstance(schema, dict):
        return schema
    cleaned: Dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title":
            continue
        if key == "properties":
            cleaned[key] = {name: openapi_schema(inner) for name, inner in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            cleaned[key] = openapi_schema(value)
        elif key in ("anyOf", "allOf", "oneOf"):
            cleaned[key] = [openapi_schema(inner) for inner in value]
        else:
            cleaned[key] = value
    return cleaned


def _content(components: _Components, answer: Answer) -> Dict[str, Any]:
    described: Dict[str, Any] = {"description": answer.description}
    if answer.body is not None:
        described["content"] = {answer.content_type: {"schema": components.schema_of(answer.body)}}
    if answer.headers:
        described["headers"] = dict(answer.headers)
    return described


def _body_required(model: Type[BaseModel]) -> bool:
    return any(field.required for field in model.__fields__.values())


def _operation_document(info: ApiInfo, components: _Components, method: str, path: str, sanic_path: str,
                        handler: Handler) -> Dict[str, Any]:
    spec: Optional[Operation] = getattr(handler, OPERATION, None)
    if spec is None:
        raise ValueError(f"{method.upper()} {info.prefix}{path} has no @operation declaration")
    role = getattr(handler, AUTHENTICATION, None)
    document: Dict[str, Any] = {"summary": spec.summary, "tags": list(spec.tags)}
    if spec.description:
        document["description"] = spec.description
    from_route = route_parameters(sanic_path)
    declared = {p.name: p for p in spec.parameters}
    unknown = [p.name for p in spec.parameters if p.where == "path" and p.name not in from_route]
    if unknown:
        raise ValueError(f"{method.upper()} {path} declares path parameters its route does not have: {unknown}")
    parameters = []
    for name, parameter in from_route.items():
        if name in declared:
            parameter = dict(parameter, schema=dict(declared[name].schema))
            if declared[name].description:
                parameter["description"] = declared[name].description
        parameters.append(parameter)
    for parameter_spec in spec.parameters:
        if parameter_spec.where != "path":
            described = {"name": parameter_spec.name, "in": parameter_spec.where, "required": False,
                         "schema": dict(parameter_spec.schema)}
            if parameter_spec.description:
                described["description"] = parameter_spec.description
            parameters.append(described)
    if parameters:
        document["parameters"] = parameters
    if spec.body is not None:
        document["requestBody"] = {"required": _body_required(spec.body),
                                   "content": {"application/json": {"schema": components.ref(spec.body)}}}
    answers: Dict[int, Answer] = {}
    writes = method not in ("get", "head")
    if role is not None:
        answers[401] = failure(info.not_logged_in)
        if role == "admin" or writes:
            answers[403] = failure(info.forbidden)
    if spec.body is not None:
        answers[413] = failure(info.too_large)
    answers.update(spec.answers)
    document["responses"] = {str(status): _content(components, answer) for status, answer in sorted(answers.items())}
    if role is not None:
        document["security"] = [{"session": [], "csrf": []} if writes else {"session": []}]
    return document


def openapi_document(info: ApiInfo, blueprints: Sequence[Blueprint]) -> Dict[str, Any]:
    """The API's OpenAPI 3.0 document, from the routes of `blueprints` and their declarations."""
    components = _Components()
    components.ref(Error)
    found: List[Tuple[int, str, str, Dict[str, Any]]] = []
    for method, path, sanic_path, handler in routed_operations(info.prefix, blueprints):
        spec = getattr(handler, OPERATION, None)
        order = spec.order if spec is not None else -1
        found.append((order, path, method, _operation_document(info, components, method, path, sanic_path, handler)))
    paths: Dict[str, Dict[str, Any]] = {}
    for _, path, method, document in sorted(found, key=lambda item: item[0]):
        paths.setdefault(path, {})[method] = document
    return {
        "openapi": "3.0.3",
        "info": {"title": info.title, "version": info.version, "description": info.description},
        "servers": [{"url": info.prefix}],
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": info.cookie},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            },
            "schemas": dict(sorted(components.schemas.items())),
        },
        "paths": paths,
    }

