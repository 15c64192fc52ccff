"""CORS only for MADOGUCHI_ALLOWED_ORIGINS, never with credentials, never on /staff (issue 7, finding 4).

The old server answered any Origin with `Access-Control-Allow-Origin: <that origin>` and
`Access-Control-Allow-Credentials: true`, so any web site could read `/staff/api/session`
(and its CSRF token) with a logged-in clerk's cookie.
"""
from __future__ import annotations

import httpx

from tests.conftest import CITY_ORIGIN

EVIL = "https://evil.example"


def cors_headers(reply: httpx.Response) -> dict:
    return {k.lower(): v for k, v in reply.headers.items() if k.lower().startswith("access-control-")}


def preflight(base_url: str, path: str, origin: str, headers: str = "content-type") -> httpx.Response:
    return httpx.options(f"{base_url}{path}", headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                                       "Access-Control-Request-Headers": headers}, timeout=30)


def test_an_unknown_origin_gets_no_cors_headers(server):
    origin = {"Origin": EVIL}
    replies = [
        httpx.get(f"{server.base_url}/staff/api/session", headers=origin, timeout=30),
        httpx.post(f"{server.base_url}/staff/api/login", headers=origin, json={"username": "x", "password": "y"},
                   timeout=30),
        httpx.post(f"{server.base_url}/webhooks/rest/webhook", headers=origin,
                   json={"sender": "cors-evil", "message": "こんにちは"}, timeout=60),
        httpx.get(f"{server.base_url}/conversations/rest:cors-evil/tracker", params={"token": server.token},
                  headers=origin, timeout=30),
        httpx.get(f"{server.base_url}/health", headers=origin, timeout=30),
        preflight(server.base_url, "/webhooks/rest/webhook", EVIL),
        preflight(server.base_url, "/staff/api/login", EVIL, "content-type, x-csrf-token"),
    ]
    for reply in replies:
        assert cors_headers(reply) == {}, (reply.request.method, reply.request.url, reply.headers)


def test_an_allowed_origin_can_call_the_rest_channel_without_credentials(closed_server):
    reply = closed_server.say("cors-city", "住民票がほしい", headers={"Origin": CITY_ORIGIN})
    assert reply.status_code == 200 and reply.json()
    assert reply.headers["access-control-allow-origin"] == CITY_ORIGIN
    assert "access-control-allow-credentials" not in reply.headers
    assert "origin" in reply.headers.get("vary", "").lower()
    ask = preflight(closed_server.base_url, "/webhooks/rest/webhook", CITY_ORIGIN, "content-type, authorization")
    assert ask.status_code < 300
    assert ask.headers["access-control-allow-origin"] == CITY_ORIGIN
    assert "POST" in ask.headers["access-control-allow-methods"]
    assert "authorization" in ask.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in ask.headers


def test_other_origins_still_get_nothing_when_a_list_is_set(closed_server):
    reply = closed_server.say("cors-evil2", "住民票がほしい", headers={"Origin": EVIL})
    assert reply.status_code == 200 and cors_headers(reply) == {}
    assert cors_headers(preflight(closed_server.base_url, "/webhooks/rest/webhook", EVIL)) == {}
    # Near misses of the allowed origin are other origins.
    for near in (CITY_ORIGIN.replace("https", "http"), CITY_ORIGIN + ".evil.example", CITY_ORIGIN + ":8443"):
        assert cors_headers(closed_server.say("cors-near", "こんにちは", headers={"Origin": near})) == {}


def test_the_staff_console_never_gets_cors_headers(closed_server):
    for origin in (CITY_ORIGIN, EVIL):
        session = httpx.get(f"{closed_server.base_url}/staff/api/session", headers={"Origin": origin}, timeout=30)
        assert cors_headers(session) == {}, session.headers
        login = httpx.post(f"{closed_server.base_url}/staff/api/login", headers={"Origin": origin},
                           json={"username": "nobody", "password": "wrong password"}, timeout=30)
        assert cors_headers(login) == {}, login.headers
        page = httpx.get(f"{closed_server.base_url}/staff", headers={"Origin": origin}, timeout=30)
        assert cors_headers(page) == {}, page.headers
        ask = preflight(closed_server.base_url, "/staff/api/login", origin, "content-type, x-csrf-token")
        assert cors_headers(ask) == {}, ask.headers


def test_the_admin_console_never_gets_cors_headers(closed_server):
    for origin in (CITY_ORIGIN, EVIL):
        for path in ("/admin", "/admin/api/session"):
            reply = httpx.get(f"{closed_server.base_url}{path}", headers={"Origin": origin}, timeout=30)
            assert cors_headers(reply) == {}, (path, reply.headers)
        ask = preflight(closed_server.base_url, "/admin/api/login", origin, "content-type, x-csrf-token")
        assert cors_headers(ask) == {}, ask.headers


def test_open_data_is_readable_from_any_site_without_credentials(closed_server):
    for path in ("/opendata/procedures.json", "/opendata/procedures.csv", "/opendata/schema.json"):
        reply = httpx.get(f"{closed_server.base_url}{path}", headers={"Origin": EVIL}, timeout=30)
        assert reply.status_code == 200, path
        assert cors_headers(reply) == {"access-control-allow-origin": "*"}, (path, reply.headers)
