"""Finding 6: wrong logins are throttled (429 + Retry-After, audited), bcrypt and every
database call stay off the event loop. Timings are printed by bench/login_burst.py, not asserted."""
import concurrent.futures
import threading
import uuid

import httpx

from bot.redaction import my_number_check_digit
from tests.conftest import texts
from tests.handoff.conftest import PASSWORD, accounts, add_account, admin, clerk, login  # noqa: F401 (fixtures)
from tests.security.scan import hits, stored_files

BURST = 40


def client_from(server, address: str) -> httpx.Client:
    """A client whose requests come from another loopback address (127.0.0.0/8 is all local),
    so throttling one address in a test leaves the other tests' 127.0.0.1 alone."""
    return httpx.Client(base_url=server.base_url, timeout=60, transport=httpx.HTTPTransport(local_address=address))


def test_a_burst_of_wrong_logins_is_throttled_and_audited(server, admin):
    username = f"target{uuid.uuid4().hex[:6]}"
    add_account(server, username, "staff", "標的")
    attacker = client_from(server, "127.0.0.9")
    chat_done = threading.Event()

    def chat() -> None:  # a resident keeps being answered during the burst
        try:
            assert texts(server.say(f"resident-{uuid.uuid4().hex[:8]}", "住民票の写しがほしい"))
        finally:
            chat_done.set()

    def wrong_login(i: int) -> httpx.Response:
        return attacker.post("/staff/api/login", json={"username": username, "password": f"guess number {i}"})

    resident = threading.Thread(target=chat)
    with concurrent.futures.ThreadPoolExecutor(max_workers=BURST) as pool:
        resident.start()
        replies = list(pool.map(wrong_login, range(BURST)))
    resident.join(timeout=120)
    assert chat_done.is_set()

    statuses = [r.status_code for r in replies]
    assert set(statuses) <= {401, 429} and statuses.count(401) <= 5, statuses
    assert statuses.count(429) >= BURST - 5
    throttled = next(r for r in replies if r.status_code == 429)
    assert int(throttled.headers["Retry-After"]) >= 1 and throttled.json()["error"] == "too_many_attempts"

    # Even the right password waits now (the account is blocked), from any address.
    assert attacker.post("/staff/api/login", json={"username": username, "password": PASSWORD}).status_code == 429
    elsewhere = client_from(server, "127.0.0.10")
    assert elsewhere.post("/staff/api/login", json={"username": username, "password": PASSWORD}).status_code == 429

    entries = admin.get("/audit").json()["entries"]
    throttled_rows = [e for e in entries if e["action"] == "login.throttled" and e["actor"] == username]
    assert throttled_rows and throttled_rows[0]["detail"]["retry_after"] >= 1
    assert len(throttled_rows) <= 2  # once per block (account, address), not once per request


def test_an_individual_number_typed_as_a_username_is_not_audited(server, admin):
    number = "84696972075" + str(my_number_check_digit("84696972075"))
    typed = f"マイナンバー {number[0]} {number[1:]} thanks"
    reply = client_from(server, "127.0.0.14").post("/staff/api/login", json={"username": typed, "password": "x" * 12})
    assert reply.status_code == 401
    entries = admin.get("/audit").json()["entries"]
    assert any(e["action"] == "login.failed" and "[個人番号]" in e["actor"] for e in entries)
    assert hits(stored_files(server.var_dir), [number]) == []


def test_the_address_is_throttled_across_usernames(server):
    sprayer = client_from(server, "127.0.0.11")
    statuses = [sprayer.post("/staff/api/login", json={"username": f"nobody{i}", "password": "x" * 12}).status_code
                for i in range(25)]
    assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}
    assert client_from(server, "127.0.0.12").post(
        "/staff/api/login", json={"username": "nobody0", "password": "x" * 12}).status_code == 401


def test_a_successful_login_resets_the_account_counter(server):
    username = f"typo{uuid.uuid4().hex[:6]}"
    add_account(server, username, "staff", "打ち間違い")
    clerk_pc = client_from(server, "127.0.0.13")
    for _ in range(2):
        for _ in range(4):
            wrong = {"username": username, "password": "wrong one!"}
            assert clerk_pc.post("/staff/api/login", json=wrong).status_code == 401
        assert clerk_pc.post("/staff/api/login", json={"username": username, "password": PASSWORD}).status_code == 200


def test_successful_logins_never_block_an_address(server):
    username = f"busy{uuid.uuid4().hex[:6]}"
    add_account(server, username, "staff", "受付")
    office = client_from(server, "127.0.0.14")  # a whole office behind one router logs in all morning
    for _ in range(22):
        assert office.post("/staff/api/login", json={"username": username, "password": PASSWORD}).status_code == 200


def test_no_database_call_runs_on_the_event_loop(server, clerk, admin):
    """The gate, the action, the staff API and the live stream all use the database; the store
    logs every session opened on the event loop thread. After a full round there is none."""
    resident = f"resident-{uuid.uuid4().hex[:8]}"
    server.say(resident, "人と話したい")
    server.say(resident, "まだですか")
    with clerk.client.stream("GET", "/staff/api/events", timeout=30) as stream:
        next(stream.iter_lines())
    clerk.post(f"/conversations/{resident}/claim")
    clerk.post(f"/conversations/{resident}/messages", {"text": "お待たせしました"})
    clerk.get(f"/conversations/{resident}")
    clerk.post(f"/conversations/{resident}/close", {"note": "案内済み"})
    server.say(resident, '/satisfaction{"score":"4"}')
    caller = f"resident-{uuid.uuid4().hex[:8]}"
    for text in ("児童手当の申請をしたい", "人と話したい", "/callback_request", "/callback_consent", "090-1111-2222"):
        server.say(caller, text)
    clerk.get(f"/conversations/{caller}/callback")
    clerk.post(f"/conversations/{caller}/callback-done", {"note": "済"})
    server.say(caller, "/visit_slip")
    admin.get("/audit")
    login(server, admin.username).post("/logout")
    log = (server.var_dir / "server.log").read_text(encoding="utf-8", errors="replace")
    assert "blocking database call on the event loop" not in log, \
        [line for line in log.splitlines() if "blocking database call" in line][:5]


def wrong_logins_from(client: httpx.Client, forwarded_for: str, count: int) -> list:
    """`count` wrong logins, each for another made-up account, so only the address limit applies."""
    headers = {"X-Forwarded-For": forwarded_for}
    return [client.post("/staff/api/login", headers=headers,
                        json={"username": f"nobody{uuid.uuid4().hex[:6]}", "password": "not the password"}).status_code
            for _ in range(count)]


def test_behind_a_trusted_proxy_the_forwarded_address_is_throttled(https_server):
    """MADOGUCHI_TRUSTED_PROXIES=1: nginx's X-Forwarded-For names the client, so one address's
    guesses are throttled while other residents' addresses behind the same proxy are not."""
    client = client_from(https_server, "127.0.0.21")
    statuses = wrong_logins_from(client, "203.0.113.7", 21)
    assert statuses[:20] == [401] * 20 and statuses[20] == 429
    assert wrong_logins_from(client, "203.0.113.8", 1) == [401]


def test_without_a_trusted_proxy_a_forged_forwarded_for_does_not_dodge_the_limit(server):
    client = client_from(server, "127.0.0.22")
    statuses = [wrong_logins_from(client, f"198.51.100.{i}", 1)[0] for i in range(21)]
    assert statuses[:20] == [401] * 20 and statuses[20] == 429
