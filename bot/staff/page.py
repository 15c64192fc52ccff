"""Serves a console page and its static files: the staff console (/staff) here, the admin
console (/admin) through the same function (bot/admin/page.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.errors import error_response

STATIC = Path(__file__).with_name("static")
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# The console shows residents' text: no inline scripts, nothing from elsewhere.
CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"


def console_page_blueprint(name: str, path: str, static_dir: Path, csp: str,
                           static_headers: Optional[Dict[str, str]] = None) -> Blueprint:
    """`path` serves static_dir/index.html (never cached, with `csp`); `path`/static/<name> its
    .js and .css files, nothing else (no sub-folders, no dot files)."""
    bp = Blueprint(name)

    @bp.get(path)
    async def page(_: Request) -> HTTPResponse:
        return await response.file(static_dir / "index.html", mime_type="text/html; charset=utf-8",
                                    headers={"Cache-Control": "no-store", "Content-Security-Policy": csp})

    @bp.get(f"{path}/static/<name>")
    async def static(_: Request, name: str) -> HTTPResponse:
        file = static_dir / name
        if "/" in name or name.startswith(".") or file.suffix not in TYPES or not file.is_file():
            return error_response(404, "not_found", f"There is no console file {name}.")
        return await response.file(file, mime_type=TYPES[file.suffix], headers=static_headers)

    return bp


def staff_page_blueprint() -> Blueprint:
    return console_page_blueprint("madoguchi_staff_page", "/staff", STATIC, CSP)
