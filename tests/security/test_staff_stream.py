"""Finding 9: the staff live stream ends with its session (logout, deactivation, expiry) and
delivers nothing after that; opening a stream is audited."""
import datetime as dt
import queue
import sqlite3
import threading
import uuid
from typing import List

import httpx

from tests.handoff.conftest import PASSWORD, accounts, add_account, admin, clerk, login  # noqa: F401 (fixtures)


class StreamReader:
    """Reads /staff/api/events in a thread; `lines` fills as events arrive, `ended` when it closes."""

    def __init__(self, server, cookies: httpx.Cookies) -> None:
        self.client = httpx.Client(base_url=server.base_url, cookies=cookies, timeout=httpx.Timeout(60, read=60))
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.seen: List[str] = []
        self.ended = threading.Event()
        self.connected = threading.Event()
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()
        assert self.connected.wait(30), "stream did not open"

    def read(self) -> None:
        try:
            with self.client.stream("GET", "/staff/api/events") as reply:
                assert reply.status_code == 200
                for line in reply.iter_lines():
                    self.connected.set()
                    self.seen.append(line)
        finally:
            self.ended.set()

    def wait_for(self, text: str, timeout: float = 30) -> bool:
        deadline = dt.datetime.now() + dt.timedelta(seconds=timeout)
        while dt.datetime.now() < deadline:
            if any(text in line for line in self.seen):
                return True
            if self.ended.wait(0.2):
                return any(text in line for line in self.seen)
        return False


def queued_resident(server) -> str:
    resident = f"resident-{uuid.uuid4().hex[:8]}"
    server.say(resident, "人と話したい")
    return resident


def test_logout_ends_the_stream_at_once_and_nothing_more_arrives(server, accounts, admin):
    resident = queued_resident(server)
    session = login(server, accounts["staff2"])
    reader = StreamReader(server, session.client.cookies)
    server.say(resident, "最初のメッセージ")
    assert reader.wait_for("最初のメッセージ")

    # The same session logs out from another tab (another client with the same cookie).
    other_tab = httpx.Client(base_url=server.base_url, cookies=session.client.cookies, timeout=30)
    assert other_tab.post("/staff/api/logout", headers={"X-CSRF-Token": session.csrf}).status_code == 200
    assert reader.ended.wait(3), "the stream stayed open after logout"
    server.say(resident, "ログアウト後のメッセージ")
    assert not reader.wait_for("ログアウト後のメッセージ", timeout=2)

    opened = [e for e in admin.get("/audit").json()["entries"]
              if e["action"] == "stream.open" and e["actor"] == accounts["staff2"]]
    assert opened


def test_a_deactivated_account_gets_no_further_event(server):
    username = f"leaver{uuid.uuid4().hex[:6]}"
    add_account(server, username, "staff", "退職者")
    session = login(server, username)
    resident = queued_resident(server)
    reader = StreamReader(server, session.client.cookies)
    server.say(resident, "在職中のメッセージ")
    assert reader.wait_for("在職中のメッセージ")

    database = sqlite3.connect(server.var_dir / "madoguchi.db")
    with database:
        database.execute("update staff_accounts set active = 0 where username = ?", (username,))
    server.say(resident, "退職後のメッセージ")
    assert reader.ended.wait(10), "the stream stayed open after the account was deactivated"
    assert not any("退職後のメッセージ" in line for line in reader.seen)


def test_an_expired_session_closes_the_stream_within_seconds(server):
    username = f"late{uuid.uuid4().hex[:6]}"
    add_account(server, username, "staff", "残業")
    session = login(server, username)
    reader = StreamReader(server, session.client.cookies)
    database = sqlite3.connect(server.var_dir / "madoguchi.db")
    with database:
        database.execute("update staff_sessions set expires_at = '2000-01-01 00:00:00.000000' where account_id = "
                         "(select id from staff_accounts where username = ?)", (username,))
    assert reader.ended.wait(20), "the stream outlived its session"
    closed = httpx.get(f"{server.base_url}/staff/api/events", cookies=session.client.cookies, timeout=30)
    assert closed.status_code == 401
