import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Optional

import httpx
import pytest

from bot.settings import PROJECT_ROOT

PASSWORD = "correct horse battery"


def add_account(server, username: str, role: str, display_name: str, section: Optional[str] = None) -> None:
    """Accounts are made with the real CLI, on the server's own database."""
    env = dict(os.environ, MADOGUCHI_VAR=str(server.var_dir))
    extra = ["--section", section] if section else []
    result = subprocess.run([sys.executable, "-m", "bot.cli", "staff", "add", "--username", username, "--role", role,
                             "--display-name", display_name, "--password-stdin", *extra],
                            input=PASSWORD + "\n", capture_output=True, text=True, cwd=PROJECT_ROOT, env=env)
    assert result.returncode == 0, result.stderr


@dataclass
class Clerk:
    client: httpx.Client
    csrf: str
    username: str

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.client.get(f"/staff/api{path}", **kwargs)

    def post(self, path: str, body: Optional[Dict[str, Any]] = None, csrf: bool = True) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf} if csrf else {}
        return self.client.post(f"/staff/api{path}", json=body or {}, headers=headers)


def login(server, username: str) -> Clerk:
    client = httpx.Client(base_url=server.base_url, timeout=60)
    reply = client.post("/staff/api/login", json={"username": username, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return Clerk(client, reply.json()["csrf_token"], username)


@pytest.fixture(scope="session")
def accounts(server):
    suffix = uuid.uuid4().hex[:6]
    names = {"staff1": f"yamada{suffix}", "staff2": f"sato{suffix}", "admin": f"admin{suffix}"}
    # 山田 works at こども家庭課 (closed on the test Saturday: the call-backs are hers), 佐藤 at 市民課.
    add_account(server, names["staff1"], "staff", "山田", section="kodomo")
    add_account(server, names["staff2"], "staff", "佐藤", section="shimin")
    add_account(server, names["admin"], "admin", "管理者")
    return names


@pytest.fixture
def clerk(server, accounts) -> Clerk:
    return login(server, accounts["staff1"])


@pytest.fixture
def second_clerk(server, accounts) -> Clerk:
    return login(server, accounts["staff2"])


@pytest.fixture
def admin(server, accounts) -> Clerk:
    return login(server, accounts["admin"])
