"""Each JSON API's OpenAPI document lists exactly the routes of its blueprints: the staff API
(bot/staff/openapi.json, /staff/api/openapi.json) and the admin API (bot/admin/openapi.json,
/admin/api/openapi.json: console API, model API and the document itself).

The routes are the truth: a route added, renamed or removed without its entry in the document
fails here, and so does an entry for a route that no longer exists. No server is started: the
blueprints are registered on a bare Sanic app, which resolves their routes as a server would.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Set, Tuple

import pytest
from sanic import Blueprint, Sanic

from bot.admin.api import admin_blueprint
from bot.admin.models_api import admin_models_blueprint
from bot.admin.openapi import OPENAPI_PATH as ADMIN_OPENAPI
from bot.admin.openapi import admin_openapi_blueprint
from bot.staff.api import OPENAPI_PATH as STAFF_OPENAPI
from bot.staff.api import staff_blueprint

# The operations an OpenAPI path item may hold (anything else there is e.g. "parameters").
OPENAPI_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Sanic writes a path parameter as <cid> (<cid:str> once registered); OpenAPI writes {cid}.
SANIC_PARAMETER = re.compile(r"<([^:>]+)(?::[^>]*)?>")

Operation = Tuple[str, str]  # (lower-case method, path under the API's prefix)


@dataclass
class Api:
    name: str
    document_path: Path
    prefix: str
    blueprints: Callable[[], List[Blueprint]]

    def document(self) -> dict:
        return json.loads(self.document_path.read_text(encoding="utf-8"))

    def routed_operations(self) -> Set[Operation]:
        app = Sanic(f"madoguchi_openapi_sync_{self.name}", register=False)
        for blueprint in self.blueprints():
            assert blueprint.url_prefix == self.prefix
            app.blueprint(blueprint)
        operations = set()
        for route in app.router.routes:
            path = SANIC_PARAMETER.sub(r"{\1}", "/" + route.path)
            assert path.startswith(self.prefix + "/"), path
            for method in route.methods:
                operations.add((method.lower(), path[len(self.prefix):]))
        return operations

    def documented_operations(self) -> Set[Operation]:
        return {(method, path) for path, item in self.document()["paths"].items()
                for method in item if method in OPENAPI_METHODS}


APIS = [
    Api("staff", STAFF_OPENAPI, "/staff/api", lambda: [staff_blueprint()]),
    Api("admin", ADMIN_OPENAPI, "/admin/api",
        lambda: [admin_blueprint(), admin_models_blueprint(), admin_openapi_blueprint()]),
]


@pytest.fixture(params=APIS, ids=[api.name for api in APIS])
def api(request) -> Api:
    return request.param


def test_the_document_is_served_under_the_blueprints_prefix(api: Api):
    assert [server["url"] for server in api.document()["servers"]] == [api.prefix]


def test_every_route_is_documented(api: Api):
    undocumented = sorted(api.routed_operations() - api.documented_operations())
    assert not undocumented, f"routes missing from {api.document_path.name}: {undocumented}"


def test_every_documented_operation_is_a_route(api: Api):
    unrouted = sorted(api.documented_operations() - api.routed_operations())
    assert not unrouted, f"{api.document_path.name} documents routes that do not exist: {unrouted}"


def test_path_parameters_are_named_as_in_the_routes(api: Api):
    """`{cid}` in the document is the `<cid>` of the route, and each is declared once."""
    for path, item in api.document()["paths"].items():
        in_path = set(re.findall(r"{([^}]+)}", path))
        for method, operation in item.items():
            if method not in OPENAPI_METHODS:
                continue
            declared = [p["name"] for p in item.get("parameters", []) + operation.get("parameters", [])
                        if p.get("in") == "path"]
            assert sorted(declared) == sorted(in_path), (method, path, declared)
