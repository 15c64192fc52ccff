"""The one error shape of every JSON route: `{"error": code, "message": sentence, ...}`.

`code` is a stable word a client can branch on (`not_found`, `csrf`, `stale`); `message` is a
sentence a person can read; a route may add details (`field`, `problems`, `path`, `job`).
Built here and nowhere else, so the shape cannot drift between consoles, channels and the server.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from sanic import response
from sanic.response import HTTPResponse


def error_body(code: str, message: str, **details: Any) -> Dict[str, Any]:
    """The error as a JSON object (for a stream, a log line or a test)."""
    return {"error": code, "message": message, **details}


def error_response(status: int, code: str, message: str, *, headers: Optional[Mapping[str, str]] = None,
                   ensure_ascii: bool = True, **details: Any) -> HTTPResponse:
    """The error as an HTTP response with `status` (`ensure_ascii=False`: Japanese stays readable)."""
    body, extra = error_body(code, message, **details), dict(headers or {})
    if ensure_ascii:
        return response.json(body, status=status, headers=extra)
    return response.json(body, status=status, headers=extra, ensure_ascii=False)
