"""Serves the admin console page (/admin) and its static files."""
from __future__ import annotations

from pathlib import Path

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

STATIC = Path(__file__).with_name("static")
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# No inline scripts, nothing from elsewhere; audio previews come from our own /audio route.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; media-src 'self'; "
       "frame-ancestors 'none'")


def admin_page_blueprint() -> Blueprint:
    bp = Blueprint("madoguchi_admin_page")

    @bp.get("/admin")
    async def page(_: Request) -> HTTPResponse:
        return await response.file(STATIC / "index.html", mime_type="text/html; charset=utf-8",
                                   headers={"Cache-Control": "no-store", "Content-Security-Policy": CSP})

    @bp.get("/admin/static/<name>")
    async def static(_: Request, name: str) -> HTTPResponse:
        path = STATIC / name
        if "/" in name or name.startswith(".") or path.suffix not in TYPES or not path.is_file():
            return response.json({"error": "not_found"}, status=404)
        return await response.file(path, mime_type=TYPES[path.suffix], headers={"Cache-Control": "no-cache"})

    return bp
