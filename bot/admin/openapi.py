"""The admin API's OpenAPI document (openapi.json beside this file), served at /admin/api/openapi.json.

It describes bot/admin/api.py and bot/admin/models_api.py together; tests/test_openapi_sync.py
fails when a route and the document disagree, and the schema-driven fuzz run sends what it describes.
"""
from __future__ import annotations

import json
from pathlib import Path

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

OPENAPI_PATH = Path(__file__).with_name("openapi.json")


def admin_openapi_blueprint() -> Blueprint:
    bp = Blueprint("madoguchi_admin_openapi", url_prefix="/admin/api")
    document = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))  # read once, at start-up

    @bp.get("/openapi.json")
    async def openapi(_: Request) -> HTTPResponse:
        return response.json(document, ensure_ascii=False)

    return bp
