"""Staff and admin accounts: bcrypt password hashes, server-side sessions, CSRF tokens."""
from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Optional, TypeVar

import bcrypt
from sqlalchemy import delete, select

from bot.clock import real_utcnow
from bot.store import Database
from bot.store.models import StaffAccount, StaffSession

ROLES = ("staff", "admin")
SESSION_LIFETIME = dt.timedelta(hours=8)  # one working day
MAX_PASSWORD_BYTES = 72  # bcrypt's limit: refuse rather than silently truncate
MIN_PASSWORD_CHARS = 10


T = TypeVar("T")
# A bcrypt check is ~0.25 s of CPU. It gets its own two threads, so a burst of logins can
# neither stall the event loop nor take the worker threads residents' database calls use.
_PASSWORD_WORKERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bcrypt")


class NewSession(NamedTuple):
    token: str  # for the session cookie; only its hash is stored
    csrf: str  # for the client, sent back in a header with every change


class AccountError(ValueError):
    pass


async def in_password_worker(work: Callable[..., T], *args: Any) -> T:
    """Run password hashing or checking (and its account lookup) off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_PASSWORD_WORKERS, functools.partial(work, *args))


@dataclass(frozen=True)
class Principal:
    """Who is making a request, as the API sees them."""

    account_id: int
    username: str
    display_name: str
    role: str
    section: Optional[str]
    csrf_token: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def hash_password(password: str) -> str:
    encoded = password.encode("utf-8")
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"password must have at least {MIN_PASSWORD_CHARS} characters")
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise AccountError(f"password must be at most {MAX_PASSWORD_BYTES} bytes")
    return bcrypt.hashpw(encoded, bcrypt.gensalt(rounds=12)).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        return False
    return bcrypt.checkpw(encoded, password_hash.encode("ascii"))


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return bcrypt.hashpw(b"no such account", bcrypt.gensalt(rounds=12)).decode("ascii")


def token_hash(token: str) -> str:
    """Sessions are stored and indexed by this, never by the token itself."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


class Accounts:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, username: str, password: str, role: str, display_name: Optional[str] = None,
            section: Optional[str] = None) -> StaffAccount:
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        if not username or len(username) > 64 or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
            raise AccountError("username: 1–64 letters, digits, . _ -")
        password_hash = hash_password(password)
        with self.db.session() as session:
            if session.scalar(select(StaffAccount).where(StaffAccount.username == username)):
                raise AccountError(f"username {username!r} already exists")
            account = StaffAccount(username=username, display_name=display_name or username, role=role,
                                   section=section, password_hash=password_hash)
            session.add(account)
            session.flush()
            return account

    def authenticate(self, username: str, password: str) -> Optional[StaffAccount]:
        with self.db.session() as session:
            account = session.scalar(select(StaffAccount).where(StaffAccount.username == username))
            if account is None or not account.active:
                # Same work as a real check, so timing does not reveal which usernames exist.
                verify_password(password, _dummy_hash())
                return None
            return account if verify_password(password, account.password_hash) else None

    def open_session(self, account: StaffAccount) -> "NewSession":
        """A new session: its token for the cookie and its CSRF token for the client."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.db.session() as session:
            session.execute(delete(StaffSession).where(StaffSession.expires_at < real_utcnow()))
            session.add(StaffSession(token_hash=token_hash(token), account_id=account.id, csrf_token=csrf,
                                     expires_at=real_utcnow() + SESSION_LIFETIME))
        return NewSession(token, csrf)

    def principal(self, token: Optional[str]) -> Optional[Principal]:
        if not token:
            return None
        with self.db.session() as session:
            row = session.get(StaffSession, token_hash(token))
            if row is None or row.expires_at < real_utcnow():
                return None
            account = session.get(StaffAccount, row.account_id)
            if account is None or not account.active:
                return None
            return Principal(account.id, account.username, account.display_name, account.role,
                             account.section, row.csrf_token)

    def close_session(self, token: str) -> None:
        with self.db.session() as session:
            session.execute(delete(StaffSession).where(StaffSession.token_hash == token_hash(token)))
