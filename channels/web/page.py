"""The chat page itself (plain HTML/CSS/JS from `bot/web/`, no build step), with its headers."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict, Optional

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

STATIC_DIR = Path(__file__).resolve().parents[2] / "bot" / "web"
# The page's own scripts and styles only: a message that slipped past the DOM-building
# code still could not run a script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; media-src 'self' blob: data:; object-src 'none'; base-uri 'none'; form-action 'self'"
)


def page_headers() -> Dict[str, str]:
    return {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


async def chat_page(static_dir: Path = STATIC_DIR) -> HTTPResponse:
    """The page, read in a worker thread (file work stays off the event loop); read on every
    request, so an edited page is served without a restart."""
    html = await asyncio.to_thread((Path(static_dir) / "index.html").read_text, encoding="utf-8")
    return response.html(html, headers=page_headers())


def root_page_blueprint(static_dir: Path = STATIC_DIR) -> Blueprint:
    """Serve the chat page at `/` too.

    Rasa's own app already owns GET `/` ("Hello from Rasa"), and Sanic refuses a second
    route for the same path, so an app-level request middleware answers GET/HEAD `/`
    before Rasa's handler runs. Blueprint middleware would only apply to the blueprint's
    own routes, hence the listener that registers it on the app.
    """
    root = Blueprint("madoguchi_root_page")

    async def serve_page(request: Request) -> Optional[HTTPResponse]:
        if request.path == "/" and request.method in ("GET", "HEAD"):
            return await chat_page(static_dir)
        return None

    @root.listener("before_server_start")
    async def take_root(app: Any, _loop: Any) -> None:
        app.register_middleware(serve_page, "request")

    return root
