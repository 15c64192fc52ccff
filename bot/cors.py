"""Cross-origin access: only the origins in MADOGUCHI_ALLOWED_ORIGINS, never with credentials.

Rasa's `configure_cors` installs sanic_cors on every app with credentials allowed; madoguchi
hands it no origins, so it adds no headers of its own and only answers OPTIONS preflights with
an empty 200. This module decides the headers, in one response middleware:
- every `Access-Control-*` header anyone else set is removed first (so credentials never pass);
- an allowed origin gets `Access-Control-Allow-Origin: <origin>` (and the preflight answers),
  except on the staff console: `/staff` paths never carry a CORS header, whatever the origin,
  because they run on the clerk's session cookie; `/admin` likewise;
- open data (`/opendata/…`) is for everyone: `Access-Control-Allow-Origin: *` on GET, never
  credentials, whatever MADOGUCHI_ALLOWED_ORIGINS says.
The resident widget needs none of this: it opens the chat page in an iframe.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Iterable

from sanic.request import Request
from sanic.response import HTTPResponse

PRIVATE_PREFIXES = ("/staff", "/admin")
PUBLIC_PREFIXES = ("/opendata",)  # read by anyone, from any site
PREFLIGHT_METHODS = "GET, POST, OPTIONS"
PREFLIGHT_HEADERS = "Content-Type, Authorization"
PREFLIGHT_MAX_AGE = "600"

ResponseMiddleware = Callable[[Request, HTTPResponse], Awaitable[None]]


def under(path: str, prefixes: Iterable[str]) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes)


def is_private(path: str) -> bool:
    """Paths that never get CORS headers (`/staff`, `/admin` and everything under them)."""
    return under(path, PRIVATE_PREFIXES)


def cors_headers_middleware(allowed_origins: Iterable[str]) -> ResponseMiddleware:
    allowed = frozenset(allowed_origins)

    async def set_cors_headers(request: Request, response: HTTPResponse) -> None:
        headers = response.headers
        for name in [name for name in headers.keys() if name.lower().startswith("access-control-")]:
            headers.popall(name, None)
        if under(request.path, PUBLIC_PREFIXES) and request.method in ("GET", "HEAD"):
            headers["Access-Control-Allow-Origin"] = "*"
            return
        if not allowed or is_private(request.path):
            return
        headers.add("Vary", "Origin")  # the answer depends on the Origin: caches must not share it
        origin = request.headers.get("origin")
        if origin not in allowed:
            return
        headers["Access-Control-Allow-Origin"] = origin
        if request.method == "OPTIONS" and request.headers.get("access-control-request-method"):
            headers["Access-Control-Allow-Methods"] = PREFLIGHT_METHODS
            headers["Access-Control-Allow-Headers"] = PREFLIGHT_HEADERS
            headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE

    return set_cors_headers


def install_cors(app: Any, allowed_origins: Iterable[str]) -> None:
    app.register_middleware(cors_headers_middleware(allowed_origins), "response")
