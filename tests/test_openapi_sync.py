"""Each JSON API's OpenAPI document is generated from its routes and their declared bodies
(`madoguchi openapi`, bot/apidoc.py), and the committed document is the generated one: the staff
API (bot/staff/openapi.json, /staff/api/openapi.json) and the admin API (bot/admin/openapi.json,
/admin/api/openapi.json: console API, model API and the document itself).

The routes are the truth: a route added, renamed or removed without regenerating the document
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

from bot.admin.openapi import ADMIN_API, admin_api_blueprints
from bot.admin.openapi import OPENAPI_PATH as ADMIN_OPENAPI
from bot.apidoc import ApiInfo, openapi_document
from bot.cli.openapi import document_text
from bot.staff.api import OPENAPI_PATH as STAFF_OPENAPI
from bot.staff.api import STAFF_API, staff_blueprint

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
    info: ApiInfo

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
    Api("staff", STAFF_OPENAPI, "/staff/api", lambda: [staff_blueprint()], STAFF_API),
    Api("admin", ADMIN_OPENAPI, "/admin/api", admin_api_blueprints, ADMIN_API),
]


@pytest.fixture(params=APIS, ids=[api.name for api in APIS])
def api(request) -> Api:
    return request.param


def test_the_committed_document_is_the_generated_one(api: Api):
    generated = document_text(openapi_document(api.info, api.blueprints()))
    assert api.document_path.read_text(encoding="utf-8") == generated, \
        f"{api.document_path} is stale: run `madoguchi openapi` (python -m bot.cli openapi) and commit it"


def test_the_document_is_valid_openapi_3_0(api: Api):
    """The schema-driven fuzz run (tests/fuzz/test_schemathesis.py) reads it: schemathesis's own check."""
    import schemathesis

    schemathesis.openapi.from_dict(api.document()).validate()


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
