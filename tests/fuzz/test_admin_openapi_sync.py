"""The admin API's OpenAPI document (bot/admin/openapi.json, served at /admin/api/openapi.json) lists
exactly the routes of the admin blueprints (console API, model API, the document itself).

The routes are the truth: a route added, renamed or removed without its entry in the document fails
here, and so does an entry for a route that no longer exists. No server: the blueprints are
registered on a bare Sanic app, which resolves their routes as a server would.
"""
from __future__ import annotations

import json
import re
from typing import Set, Tuple

from sanic import Sanic

from bot.admin.api import admin_blueprint
from bot.admin.models_api import admin_models_blueprint
from bot.admin.openapi import OPENAPI_PATH, admin_openapi_blueprint

OPENAPI_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SANIC_PARAMETER = re.compile(r"<([^:>]+)(?::[^>]*)?>")
PREFIX = "/admin/api"

Operation = Tuple[str, str]


def document() -> dict:
    return json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))


def routed_operations() -> Set[Operation]:
    app = Sanic("madoguchi_admin_openapi_sync", register=False)
    for blueprint in (admin_blueprint(), admin_models_blueprint(), admin_openapi_blueprint()):
        assert blueprint.url_prefix == PREFIX
        app.blueprint(blueprint)
    operations = set()
    for route in app.router.routes:
        path = SANIC_PARAMETER.sub(r"{\1}", "/" + route.path)
        assert path.startswith(PREFIX + "/"), path
        for method in route.methods:
            operations.add((method.lower(), path[len(PREFIX):]))
    return operations


def documented_operations() -> Set[Operation]:
    return {(method, path) for path, item in document()["paths"].items()
            for method in item if method in OPENAPI_METHODS}


def test_the_document_is_served_under_the_blueprints_prefix():
    assert [server["url"] for server in document()["servers"]] == [PREFIX]


def test_every_route_is_documented():
    undocumented = sorted(routed_operations() - documented_operations())
    assert not undocumented, f"routes missing from {OPENAPI_PATH.name}: {undocumented}"


def test_every_documented_operation_is_a_route():
    unrouted = sorted(documented_operations() - routed_operations())
    assert not unrouted, f"{OPENAPI_PATH.name} documents routes that do not exist: {unrouted}"


def test_every_path_parameter_is_declared():
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{([^}]+)}", path)), (method, path)
