"""Finding 4 (staff side): the session cookie's flags follow MADOGUCHI_PUBLIC_URL, logout
deletes the very cookie that was set, and the CSRF token is checked exactly."""
import uuid
from http.cookies import SimpleCookie

import httpx

from tests.handoff.conftest import PASSWORD, accounts, add_account, clerk  # noqa: F401 (fixtures)


def set_cookies(reply: httpx.Response) -> SimpleCookie:
    jar = SimpleCookie()
    for header in reply.headers.get_list("set-cookie"):
        jar.load(header)
    return jar


def log_in(base_url: str, username: str) -> httpx.Response:
    reply = httpx.post(f"{base_url}/staff/api/login", json={"username": username, "password": PASSWORD}, timeout=60)
    assert reply.status_code == 200, reply.text
    return reply


def test_plain_http_cookie_is_scoped_to_staff_and_logout_deletes_it(server, accounts):
    login = log_in(server.base_url, accounts["staff1"])
    cookie = set_cookies(login)["madoguchi_staff"]
    assert cookie["path"] == "/staff" and cookie["httponly"] and cookie["samesite"] == "Strict"
    assert not cookie["secure"]

    session = {"madoguchi_staff": cookie.value}
    logout = httpx.post(f"{server.base_url}/staff/api/logout", cookies=session,
                        headers={"X-CSRF-Token": login.json()["csrf_token"]}, timeout=30)
    assert logout.status_code == 200
    deletion = set_cookies(logout)["madoguchi_staff"]
    assert deletion.value == "" and deletion["max-age"] == "0"
    assert deletion["path"] == "/staff"  # the same path, or the browser keeps the session cookie
    assert httpx.get(f"{server.base_url}/staff/api/me", cookies=session, timeout=30).status_code == 401


def test_csrf_token_must_match_exactly(server, clerk):
    sender = f"rest:resident-{uuid.uuid4().hex[:8]}"
    httpx.post(f"{server.base_url}/webhooks/rest/webhook", json={"sender": sender, "message": "人と話したい"},
               timeout=60).raise_for_status()
    forged = clerk.csrf[:-1] + ("A" if clerk.csrf[-1] != "A" else "B")
    for token in (forged, clerk.csrf[:-1], "", "x" * len(clerk.csrf), clerk.csrf + "x"):
        reply = clerk.client.post(f"/staff/api/conversations/{sender}/claim", headers={"X-CSRF-Token": token}, json={})
        assert reply.status_code == 403 and reply.json()["error"] == "csrf", token
    assert clerk.post(f"/conversations/{sender}/claim").status_code == 200


def test_behind_https_the_cookie_is_secure_with_the_host_prefix(https_server):
    username = f"https{uuid.uuid4().hex[:6]}"
    add_account(https_server, username, "staff", "暗号")
    login = log_in(https_server.base_url, username)
    jar = set_cookies(login)
    assert "madoguchi_staff" not in jar
    cookie = jar["__Host-madoguchi_staff"]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Strict"
    assert cookie["path"] == "/" and not cookie["domain"]  # what __Host- requires

    # (httpx, like a browser, keeps Secure cookies off plain http: the proxy's side is sent by hand.)
    session = {"__Host-madoguchi_staff": cookie.value}
    me = httpx.get(f"{https_server.base_url}/staff/api/me", cookies=session, timeout=30)
    assert me.status_code == 200 and me.json()["username"] == username
    logout = httpx.post(f"{https_server.base_url}/staff/api/logout", cookies=session,
                        headers={"X-CSRF-Token": login.json()["csrf_token"]}, timeout=30)
    deletion = set_cookies(logout)["__Host-madoguchi_staff"]
    assert deletion.value == "" and deletion["max-age"] == "0"
    assert deletion["path"] == "/" and deletion["secure"]
    assert httpx.get(f"{https_server.base_url}/staff/api/me", cookies=session, timeout=30).status_code == 401
