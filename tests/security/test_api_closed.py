"""Rasa's HTTP API is closed by default (issue 7, finding 1), over real HTTP.

Without MADOGUCHI_API_TOKEN the API routes do not exist (404) while the channels and pages
work; with a token a wrong one gets 401 and the right one 200; `madoguchi serve` refuses a
public address without a token.
"""
from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from bot.settings import PROJECT_ROOT
from tests.conftest import texts
from tests.devserver import free_port

# Reading trackers, writing events and replacing or unloading the model: what an attacker wants.
API_CALLS = [
    ("GET", "/status"),
    ("GET", "/version"),
    ("GET", "/domain"),
    ("GET", "/conversations/telegram:12345/tracker"),
    ("POST", "/conversations/telegram:12345/tracker/events"),
    ("POST", "/conversations/telegram:12345/trigger_intent"),
    ("POST", "/model/parse"),
    ("PUT", "/model"),
    ("DELETE", "/model"),
]


@pytest.mark.parametrize("method,path", API_CALLS)
def test_without_a_token_the_api_is_not_mounted(closed_server, method, path):
    reply = httpx.request(method, f"{closed_server.base_url}{path}", json={"event": "resume"}, timeout=30)
    assert reply.status_code == 404, reply.text


def test_without_a_token_the_chat_and_the_health_check_still_work(closed_server):
    httpx.delete(f"{closed_server.base_url}/model", timeout=30)  # must not unload anything
    reply = closed_server.say("closed-api-resident", "マイナンバーカードをなくしました")
    assert reply.status_code == 200 and "0120-95-0178" in texts(reply.json())
    health = httpx.get(f"{closed_server.base_url}/health", timeout=30)
    assert health.status_code == 200 and health.json() == {"status": "ok", "model_loaded": True}
    assert httpx.get(f"{closed_server.base_url}/", timeout=30).status_code == 200  # the chat page


def test_with_a_token_a_wrong_one_is_refused(server):
    right = server.token
    for wrong in (None, "", "wrong", right[:-1], right + "x", right.upper()):
        params = {} if wrong is None else {"token": wrong}
        for method, path in API_CALLS:
            reply = httpx.request(method, f"{server.base_url}{path}", params=params, json={"event": "resume"},
                                  timeout=30)
            assert reply.status_code == 401, (method, path, wrong, reply.status_code)
    # A Bearer header is not an API token: Rasa's API only takes `?token=`.
    assert httpx.get(f"{server.base_url}/status", headers={"Authorization": f"Bearer {right}"},
                     timeout=30).status_code == 401
    # Nothing above unloaded the model.
    assert httpx.get(f"{server.base_url}/health", timeout=30).json()["model_loaded"] is True


def test_with_a_token_the_right_one_is_accepted(server):
    server.say("api-open-with-token", "住民票がほしい")
    status = httpx.get(f"{server.base_url}/status", params={"token": server.token}, timeout=30)
    assert status.status_code == 200 and status.json()["model_file"]
    assert httpx.get(f"{server.base_url}/version", params={"token": server.token}, timeout=30).status_code == 200
    tracker = httpx.get(f"{server.base_url}/conversations/rest:api-open-with-token/tracker",
                        params={"token": server.token}, timeout=30)
    assert tracker.status_code == 200 and tracker.json()["sender_id"] == "rest:api-open-with-token"


def test_the_health_check_says_nothing_else(server):
    assert httpx.get(f"{server.base_url}/health", timeout=30).json() == {"status": "ok", "model_loaded": True}


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "madoguchi.example"])
def test_serve_refuses_a_public_address_without_a_token(tmp_path, host):
    env = dict(os.environ, MADOGUCHI_HOST=host, MADOGUCHI_PORT=str(free_port()), MADOGUCHI_VAR=str(tmp_path),
               RASA_TELEMETRY_ENABLED="false")
    env.pop("MADOGUCHI_API_TOKEN", None)
    try:
        done = subprocess.run([sys.executable, "-m", "bot.cli", "serve"], cwd=PROJECT_ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`madoguchi serve` started on {host} without a token")
    assert done.returncode != 0
    assert "MADOGUCHI_API_TOKEN" in done.stderr and host in done.stderr
