"""Who may call what over HTTP: constant-time token checks and the guard on Rasa's API.

Rasa's own `requires_auth` compares `?token=` with `==` (its timing says how many leading
characters were right). The guard here runs as a request middleware in front of every
route Rasa's `create_app` registered and refuses a wrong token before Rasa's check runs,
so Rasa only ever compares the right token. Without a token the API is not mounted at all
(see `bot.server.build_app`), so there is nothing to guard.
"""
from __future__ import annotations

import hmac
import ipaddress
from typing import Any, Awaitable, Callable, FrozenSet, Optional

from sanic.request import Request
from sanic.response import HTTPResponse

from bot.errors import error_response

RequestMiddleware = Callable[[Request], Awaitable[Optional[HTTPResponse]]]


def token_matches(provided: Any, expected: str) -> bool:
    """True only for the configured token; compared in constant time."""
    if not expected or not isinstance(provided, str):
        return False
    return hmac.compare_digest(provided.encode("utf-8"), expected.encode("utf-8"))


def bearer_token(request: Request) -> Optional[str]:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    scheme, _, value = (request.headers.get("authorization") or "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def request_token(request: Request) -> Optional[str]:
    """A token given as `Authorization: Bearer …` or as `?token=…`."""
    return bearer_token(request) or request.args.get("token")


def not_authenticated(message: str) -> HTTPResponse:
    return error_response(401, "not_authenticated", message)


def rasa_api_routes(app: Any) -> FrozenSet[str]:
    """Names of the routes Rasa's `create_app` registered, except its greeting at `/`."""
    return frozenset(route.name for route in app.router.routes if route.path != "")


def rasa_api_guard(api_routes: FrozenSet[str], token: str) -> RequestMiddleware:
    """A request middleware: Rasa's API routes answer 401 unless `?token=` is the right one.

    Only `?token=` counts here, because that is the one form Rasa's own check accepts after us.
    """
    async def require_token(request: Request) -> Optional[HTTPResponse]:
        route = request.route
        if route is not None and route.name in api_routes and not token_matches(request.args.get("token"), token):
            return not_authenticated("Rasa's HTTP API needs the API token as `?token=…`.")
        return None

    return require_token


def is_loopback(host: str) -> bool:
    """True for hosts only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name or an empty host: may be reachable from outside
        return False
