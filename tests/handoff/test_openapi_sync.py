"""The staff API's OpenAPI document (bot/staff/openapi.json, served at /staff/api/openapi.json)
lists exactly the routes of the staff blueprint.

The routes are the truth: a route added, renamed or removed without its entry in the document
fails here, and so does an entry for a route that no longer exists. No server is started: the
blueprint is registered on a bare Sanic app, which resolves its routes as a server would.
"""
from __future__ import annotations

import json
import re
from typing import Set, Tuple

from sanic import Sanic

from bot.staff.api import OPENAPI_PATH, staff_blueprint

# The operations an OpenAPI path item may hold (anything else there is e.g. "parameters").
OPENAPI_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Sanic writes a path parameter as <cid> (<cid:str> once registered); OpenAPI writes {cid}.
SANIC_PARAMETER = re.compile(r"<([^:>]+)(?::[^>]*)?>")

Operation = Tuple[str, str]  # (lower-case method, path under the API's prefix)


def document() -> dict:
    return json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))


def routed_operations() -> Set[Operation]:
    blueprint = staff_blueprint()
    app = Sanic("madoguchi_openapi_sync", register=False)
    app.blueprint(blueprint)
    operations = set()
    for route in app.router.routes:
        path = SANIC_PARAMETER.sub(r"{\1}", "/" + route.path)
        assert path.startswith(blueprint.url_prefix + "/"), path
        for method in route.methods:
            operations.add((method.lower(), path[len(blueprint.url_prefix):]))
    return operations


def documented_operations() -> Set[Operation]:
    return {(method, path) for path, item in document()["paths"].items()
            for method in item if method in OPENAPI_METHODS}


def test_the_document_is_served_under_the_blueprints_prefix():
    assert [server["url"] for server in document()["servers"]] == [staff_blueprint().url_prefix]


def test_every_route_is_documented():
    undocumented = sorted(routed_operations() - documented_operations())
    assert not undocumented, f"routes missing from {OPENAPI_PATH.name}: {undocumented}"


def test_every_documented_operation_is_a_route():
    unrouted = sorted(documented_operations() - routed_operations())
    assert not unrouted, f"{OPENAPI_PATH.name} documents routes that do not exist: {unrouted}"


def test_path_parameters_are_named_as_in_the_routes():
    """`{cid}` in the document is the `<cid>` of the route, and each is declared once."""
    for path, item in document()["paths"].items():
        in_path = set(re.findall(r"{([^}]+)}", path))
        for method, operation in item.items():
            if method not in OPENAPI_METHODS:
                continue
            declared = [p["name"] for p in item.get("parameters", []) + operation.get("parameters", [])
                        if p.get("in") == "path"]
            assert sorted(declared) == sorted(in_path), (method, path, declared)
