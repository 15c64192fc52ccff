"""Accounts and sessions on a real SQLite database."""
import datetime as dt

import pytest
from sqlalchemy import update

from bot.staff.accounts import AccountError, Accounts, verify_password
from bot.store import Database
from bot.store.models import StaffAccount, StaffSession


@pytest.fixture
def accounts(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'accounts.db'}")
    db.create_tables()
    return Accounts(db)


def test_passwords_are_hashed_and_checked(accounts):
    account = accounts.add("tanaka", "a long passphrase", "staff", display_name="田中")
    assert account.password_hash.startswith("$2b$") and "passphrase" not in account.password_hash
    assert verify_password("a long passphrase", account.password_hash)
    assert accounts.authenticate("tanaka", "a long passphrase").id == account.id
    assert accounts.authenticate("tanaka", "wrong passphrase") is None
    assert accounts.authenticate("nobody", "a long passphrase") is None


def test_bad_accounts_are_refused_with_a_reason(accounts):
    accounts.add("suzuki", "a long passphrase", "admin")
    for username, password, role, reason in [
        ("suzuki", "another long one", "staff", "already exists"),
        ("x y", "a long passphrase", "staff", "username"),
        ("kato", "short", "staff", "at least"),
        ("kato", "あ" * 30, "staff", "at most 72 bytes"),   # bcrypt would silently cut it
        ("kato", "a long passphrase", "mayor", "role"),
    ]:
        with pytest.raises(AccountError, match=reason):
            accounts.add(username, password, role)


def test_sessions_expire_and_can_be_closed(accounts):
    account = accounts.add("ito", "a long passphrase", "staff")
    token, csrf = accounts.open_session(account)
    principal = accounts.principal(token)
    assert principal.username == "ito" and principal.csrf_token == csrf and not principal.is_admin
    assert accounts.principal("forged-token") is None
    with accounts.db.session() as session:
        session.execute(update(StaffSession).values(expires_at=dt.datetime(2000, 1, 1)))
    assert accounts.principal(token) is None                     # expired
    token, _ = accounts.open_session(account)
    accounts.close_session(token)
    assert accounts.principal(token) is None                     # logged out
    token, _ = accounts.open_session(account)
    with accounts.db.session() as session:
        session.execute(update(StaffAccount).values(active=False))
    assert accounts.principal(token) is None                     # deactivated account
