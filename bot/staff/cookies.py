"""The staff session cookie: its name, path and flags depend on whether the service is
reached over HTTPS (MADOGUCHI_PUBLIC_URL)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sanic.request import Request
from sanic.response import HTTPResponse

from bot.services import services_of
from bot.settings import Settings

NAME = "madoguchi_staff"
MAX_AGE_SECONDS = 8 * 3600  # one working day, as the server-side session


@dataclass(frozen=True)
class SessionCookie:
    name: str
    path: str
    secure: bool

    @classmethod
    def for_settings(cls, settings: Settings) -> "SessionCookie":
        """Behind HTTPS: `__Host-` (the browser then insists on Secure, path=/ and no Domain,
        so no sub-domain or plain-HTTP page can plant or read it). Otherwise scoped to /staff."""
        if settings.behind_https:
            return cls(f"__Host-{NAME}", "/", True)
        return cls(NAME, "/staff", False)

    @classmethod
    def of(cls, request: Request) -> "SessionCookie":
        return cls.for_settings(services_of(request.app).settings)

    def read(self, request: Request) -> Optional[str]:
        return request.cookies.get(self.name)

    def set(self, reply: HTTPResponse, token: str) -> None:
        self._write(reply, token, MAX_AGE_SECONDS)

    def delete(self, reply: HTTPResponse) -> None:
        """Same name, path and flags as when set: a deletion with another path is a different
        cookie to the browser and leaves the session cookie in place."""
        self._write(reply, "", 0)

    def _write(self, reply: HTTPResponse, value: str, max_age: int) -> None:
        reply.cookies[self.name] = value
        cookie = reply.cookies[self.name]
        cookie["path"] = self.path
        cookie["max-age"] = max_age
        cookie["httponly"] = True
        cookie["samesite"] = "Strict"
        if self.secure:
            cookie["secure"] = True
