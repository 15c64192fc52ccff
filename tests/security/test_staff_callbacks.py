"""Finding 8: a call-back phone number lives only while its call-back is pending, at most
MADOGUCHI_CALLBACK_TTL, and only the owning section's clerks (and admins) can read it."""
import sqlite3
import time
import uuid

from bot.catalog import load_catalog
from bot.settings import PROJECT_ROOT
from tests.conftest import Server, texts
from tests.handoff.conftest import accounts, admin, clerk, second_clerk  # noqa: F401 (fixtures)
from tests.security.conftest import SHORT_CALLBACK_TTL_SECONDS

CATALOG = load_catalog(PROJECT_ROOT / "intents")
PHONE = "080-3333-4444"


def stored_numbers(server, sender: str) -> int:
    database = sqlite3.connect(server.var_dir / "madoguchi.db")
    return database.execute("select count(*) from callback_requests where conversation_id = ?", (sender,)).fetchone()[0]


def handoff_state(server, sender: str) -> str:
    database = sqlite3.connect(server.var_dir / "madoguchi.db")
    return database.execute("select state from handoffs where conversation_id = ?", (sender,)).fetchone()[0]


def register_callback(server) -> str:
    """こども家庭課 is closed on the test Saturday: the resident leaves a number."""
    sender = f"rest:resident-{uuid.uuid4().hex[:8]}"
    for text in ("児童手当の申請をしたい", "人と話したい", "/callback_request", "/callback_consent"):
        server.say(sender, text)
    assert "承りました" in texts(server.say(sender, f"{PHONE} です"))
    assert stored_numbers(server, sender) == 1
    return sender


def test_requeue_deletes_the_number_and_close_leaves_nothing(server, clerk):
    sender = register_callback(server)
    server.say(sender, "住民票の写しがほしい")
    server.say(sender, "人と話したい")  # 市民課 is open: the resident is queued instead
    assert handoff_state(server, sender) == "queued"
    assert stored_numbers(server, sender) == 0
    assert clerk.get(f"/conversations/{sender}/callback").status_code == 404
    assert clerk.post(f"/conversations/{sender}/claim").status_code == 200
    assert clerk.post(f"/conversations/{sender}/close", {"note": "案内済み"}).status_code == 200
    assert stored_numbers(server, sender) == 0


def test_the_resident_can_cancel_a_pending_callback(server, clerk):
    sender = register_callback(server)
    reply = server.say(sender, "キャンセル")
    assert CATALOG.phrases["callback_cancelled"].ja in texts(reply)
    assert stored_numbers(server, sender) == 0 and handoff_state(server, sender) == "bot"
    assert clerk.get(f"/conversations/{sender}/callback").status_code == 404


def test_a_number_older_than_the_ttl_is_purged_on_read(server, clerk):
    sender = register_callback(server)
    database = sqlite3.connect(server.var_dir / "madoguchi.db")
    with database:  # as if it had been left eight days ago (the default TTL is seven)
        database.execute("update callback_requests set consent_at = datetime('now', '-8 days')"
                         " where conversation_id = ?", (sender,))
    assert clerk.get(f"/conversations/{sender}/callback").status_code == 404
    assert stored_numbers(server, sender) == 0
    assert handoff_state(server, sender) == "closed"
    assert all(e["conversation_id"] != sender for e in clerk.get("/queue").json()["queue"])


def test_only_the_owning_section_reads_the_number(server, clerk, second_clerk, admin, accounts):
    sender = register_callback(server)
    # 佐藤 works at 市民課; the call-back belongs to こども家庭課.
    denied = second_clerk.get(f"/conversations/{sender}/callback")
    assert denied.status_code == 403 and "3333" not in denied.text
    assert second_clerk.post(f"/conversations/{sender}/callback-done", {"note": "x"}).status_code == 403
    assert handoff_state(server, sender) == "callback_requested"
    assert clerk.get(f"/conversations/{sender}/callback").json() == {"phone": PHONE.replace("-", "")}
    assert admin.get(f"/conversations/{sender}/callback").status_code == 200
    entries = admin.get("/audit", params={"conversation_id": sender}).json()["entries"]
    assert any(e["action"] == "callback.read_phone.denied" and e["actor"] == accounts["staff2"] for e in entries)
    assert clerk.post(f"/conversations/{sender}/callback-done", {"note": "折り返し済み"}).status_code == 200
    assert stored_numbers(server, sender) == 0


def test_expired_numbers_are_purged_even_when_nobody_reads_them(https_server):
    """That server keeps numbers 10 s: its periodic purge deletes them without any request."""
    resident = Server(https_server.base_url, https_server.token, https_server.var_dir, https_server.process)
    sender = register_callback(resident)
    deadline = time.monotonic() + SHORT_CALLBACK_TTL_SECONDS * 3
    while stored_numbers(resident, sender) and time.monotonic() < deadline:
        time.sleep(1)
    assert stored_numbers(resident, sender) == 0
    assert handoff_state(resident, sender) == "closed"
