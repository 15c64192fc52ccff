"""Whose conversation a web request belongs to: decided by the server, never by the client.

  - On the city's page, a server-issued cookie `madoguchi_web` (`__Host-madoguchi_web`
    behind HTTPS) holds 128 random bits: HttpOnly (no script reads it), SameSite=Strict
    (no other site's form or script can send it), Secure when MADOGUCHI_PUBLIC_URL is
    https. It is set on the first request without one. The conversation id is
    `web:` + a hash of that value, so ids shown to staff or written to logs cannot be
    turned back into a resident's cookie.
  - Embedded with widget.js, the page runs in an iframe on another site, where a
    SameSite=Strict cookie is neither sent nor stored (and third-party cookies are
    blocked more and more). The embedded page therefore gets a conversation that lives
    only as long as the page load: `POST /conversation {"embed": true}` returns a fresh
    token that the page keeps in memory (never in storage, never in a URL) and sends in
    the `X-Madoguchi-Conversation` header. EventSource cannot send headers, so the
    embedded page opens its stream with a one-time ticket (`POST /stream-ticket`, valid
    60 s, used once): a ticket seen in a log or a Referer is already spent. Closing the
    panel keeps the conversation; reloading the city's page starts a new one, which on a
    shared computer in a library is what a resident wants.
A `sender` sent by a client is ignored.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, Tuple

from sanic.request import Request

from channels.inbound import InboundError, sender_prefix
from channels.outbound import remember

SENDER_PREFIX = sender_prefix("web")
COOKIE_NAME = "madoguchi_web"
SECURE_COOKIE_NAME = "__Host-madoguchi_web"  # behind HTTPS: Secure, Path=/, no Domain
CONVERSATION_HEADER = "X-Madoguchi-Conversation"
TOKEN = re.compile(r"^[0-9a-f]{32}$")
TICKET_SECONDS = 60.0
MAX_TICKETS = 10_000


def new_token() -> str:
    """128 random bits: the secret a web conversation belongs to."""
    return secrets.token_hex(16)


def conversation_id_for(token: str) -> str:
    """`web:` + 128 bits of SHA-256 of the token: ids seen by staff or in logs reveal no cookie."""
    return SENDER_PREFIX + hashlib.sha256(token.encode("ascii")).hexdigest()[:32]


@dataclass(frozen=True)
class Visitor:
    """Whose conversation a request is: its token, and whether the response must set a cookie."""

    token: str
    embedded: bool = False
    new: bool = False

    @property
    def conversation_id(self) -> str:
        return conversation_id_for(self.token)


def visitor_of(request: Request) -> Visitor:
    """The conversation this request belongs to: the embedded page's header, else the
    cookie, else a new one (the response then sets the cookie)."""
    header = request.headers.get(CONVERSATION_HEADER)
    if header is not None:
        if not TOKEN.match(header):
            raise InboundError("invalid_conversation", f"`{CONVERSATION_HEADER}` must be 32 hex digits.")
        return Visitor(header, embedded=True)
    for name in (SECURE_COOKIE_NAME, COOKIE_NAME):
        value = request.cookies.get(name)
        if value and TOKEN.match(value):
            return Visitor(value)
    return Visitor(new_token(), new=True)


def cookie_header(token: str, settings: Any) -> str:
    """The Set-Cookie value: HttpOnly, SameSite=Strict; `__Host-` and Secure behind HTTPS.

    It lasts as long as conversations are kept (MADOGUCHI_RETENTION_DAYS).
    """
    secure = bool(getattr(settings, "behind_https", False))
    name = SECURE_COOKIE_NAME if secure else COOKIE_NAME
    parts = [f"{name}={token}", "Path=/", "HttpOnly", "SameSite=Strict"]
    days = int(getattr(settings, "retention_days", 0) or 0)
    if days > 0:
        parts.insert(2, f"Max-Age={days * 86400}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def cookie_headers(visitor: Visitor, settings: Any) -> Dict[str, str]:
    """Set-Cookie for a visitor who has no cookie yet (none for the embedded page)."""
    if not visitor.new or visitor.embedded:
        return {}
    return {"Set-Cookie": cookie_header(visitor.token, settings)}


def fresh_start(embedded: bool, settings: Any) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """A new conversation: (response body, headers). The embedded page gets its token in
    the body (kept in memory); the city's page gets a new cookie."""
    token = new_token()
    if embedded:
        return {"token": token}, {"Cache-Control": "no-store"}
    return {"ok": True}, {"Cache-Control": "no-store", "Set-Cookie": cookie_header(token, settings)}


class StreamTickets:
    """One-time tickets for the embedded page's stream (EventSource cannot send a header)."""

    def __init__(self, seconds: float = TICKET_SECONDS, capacity: int = MAX_TICKETS) -> None:
        self.seconds = seconds
        self.capacity = capacity
        self._tickets: "OrderedDict[str, Tuple[str, float]]" = OrderedDict()

    def issue(self, conversation_id: str) -> str:
        ticket = new_token()
        remember(self._tickets, ticket, (conversation_id, time.monotonic() + self.seconds), self.capacity)
        return ticket

    def redeem(self, ticket: Any) -> str:
        """The conversation of a one-time ticket; InboundError (403) when unknown, used or old."""
        entry = self._tickets.pop(ticket, None) if isinstance(ticket, str) else None
        if entry is None or entry[1] < time.monotonic():
            raise InboundError("invalid_ticket", "This stream ticket is unknown, used or expired.", status=403)
        return entry[0]
