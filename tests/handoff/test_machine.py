"""The state machine alone, on a real SQLite database and on PostgreSQL (the scale option)."""
import uuid

import pytest
from sqlalchemy import text

from bot.handoff.machine import ASSIGNED, BOT, CLOSED, QUEUED, HandoffService, InvalidTransition
from bot.store import Database

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_available() -> bool:
    try:
        with Database(POSTGRES_URL).engine.connect() as connection:
            connection.execute(text("select 1"))
        return True
    except Exception:
        return False


@pytest.fixture(params=["sqlite", "postgresql"])
def service(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'h.db'}"
    else:
        assert postgres_available(), "PostgreSQL must run on 127.0.0.1:5432 (this machine kind starts it)"
        url = POSTGRES_URL
    db = Database(url)
    db.create_tables()
    return HandoffService(db)


@pytest.fixture
def clerks(service):
    """Two real accounts (the handoff table references them)."""
    from bot.staff.accounts import Accounts

    accounts = Accounts(service.db)
    return [accounts.add(f"clerk{uuid.uuid4().hex[:8]}", "long enough password", "staff").id for _ in range(2)]


def cid() -> str:
    return f"c-{uuid.uuid4().hex}"


def test_full_cycle(service, clerks):
    one, two = clerks
    c = cid()
    assert service.state(c) == BOT
    assert service.request(c, "web", "shimin", "ja", "request", {"procedure": "moving_in"}).state == QUEUED
    assert service.request(c, "web", "shimin", "ja", "request", {}).state == QUEUED   # idempotent
    assert service.claim(c, one).state == ASSIGNED
    with pytest.raises(InvalidTransition):
        service.claim(c, two)
    assert service.handback(c, one).state == BOT
    service.request(c, "web", "shimin", "ja", "request", {})
    service.claim(c, two)
    with pytest.raises(InvalidTransition):
        service.close(c, "note", account_id=one)   # not theirs
    assert service.close(c, "note", account_id=two).state == CLOSED
    assert service.request(c, "web", "shimin", "ja", "request", {}).state == QUEUED  # closed → new request


def test_queue_position_counts_only_earlier_residents_of_the_same_section(service):
    first, second, other = cid(), cid(), cid()
    service.request(first, "web", "zeimu", "ja", "request", {})
    service.request(other, "web", "kaigo", "ja", "request", {})
    service.request(second, "web", "zeimu", "ja", "request", {})
    ahead = [e for e in service.queue("zeimu") if e.state == QUEUED and e.conversation_id not in (first, second)]
    assert service.position(second)[0] == service.position(first)[0] + 1
    assert service.position(first)[0] == len([e for e in ahead if e.queued_at <= service.get(first).queued_at]) + 1
    before = service.position(second)[0]
    service.cancel(first)
    assert service.position(second)[0] == before - 1
    assert service.state(first) == BOT


def test_unknown_reason_is_refused(service):
    from bot.handoff.machine import HandoffError

    with pytest.raises(HandoffError):
        service.request(cid(), "web", "shimin", "ja", "boredom", {})
