"""Serves the admin console page (/admin) and its static files (the staff console's way)."""
from __future__ import annotations

from pathlib import Path

from sanic import Blueprint

from bot.staff.page import console_page_blueprint

STATIC = Path(__file__).with_name("static")
# No inline scripts, nothing from elsewhere; audio previews come from our own /audio route.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; media-src 'self'; "
       "frame-ancestors 'none'")


def admin_page_blueprint() -> Blueprint:
    return console_page_blueprint("madoguchi_admin_page", "/admin", STATIC, CSP,
                                  static_headers={"Cache-Control": "no-cache"})
