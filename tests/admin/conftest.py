"""A server of its own for the admin console: its catalog is a copy of intents/ (the tests edit
it), its database is fresh (analytics count exactly what the tests send), speech is Open JTalk."""
from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

import httpx
import pytest

from bot.settings import Settings
from tests.conftest import API_TOKEN, FAKE_NOW, Server
from tests.devserver import running_server
from tests.handoff.conftest import PASSWORD, add_account


@dataclass
class AdminServer(Server):
    catalog_dir: Path = Path()

    def procedure_file(self, procedure_id: str) -> Path:
        return self.catalog_dir / "procedures" / f"{procedure_id}.yml"


@pytest.fixture(scope="session")
def admin_server(trained_model: Path, settings: Settings, tmp_path_factory) -> AdminServer:
    home = tmp_path_factory.mktemp("admin-home")
    catalog = home / "intents"
    # The catalog the model was trained on (MADOGUCHI_CATALOG, default intents/): the server then
    # loads that model instead of training its own when intents/ changed during the session.
    shutil.copytree(settings.catalog_dir, catalog)
    extra = {"MADOGUCHI_FAKE_NOW": FAKE_NOW, "MADOGUCHI_CATALOG": str(catalog), "MADOGUCHI_BUILD": str(home / "build"),
             "MADOGUCHI_TTS": "openjtalk", "MADOGUCHI_TTS_PRESYNTHESIS": "off"}
    with running_server(home / "var", API_TOKEN, extra) as running:
        yield AdminServer(running.base_url, running.token, running.var_dir, running.process, catalog_dir=catalog)


@dataclass
class Admin:
    """A logged-in console user: the /admin cookie in `client`, the CSRF token for writes."""

    client: httpx.Client
    csrf: str
    username: str

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(f"/admin/api{path}", **kwargs)

    def send(self, method: str, path: str, body: Optional[Dict[str, Any]] = None, csrf: bool = True) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf} if csrf else {}
        return self.client.request(method, f"/admin/api{path}", json=body or {}, headers=headers)

    def post(self, path: str, body: Optional[Dict[str, Any]] = None, csrf: bool = True) -> httpx.Response:
        return self.send("POST", path, body, csrf)

    def put(self, path: str, body: Optional[Dict[str, Any]] = None) -> httpx.Response:
        return self.send("PUT", path, body)


def console_login(server: Server, username: str) -> Admin:
    client = httpx.Client(base_url=server.base_url, timeout=120)
    reply = client.post("/admin/api/login", json={"username": username, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return Admin(client, reply.json()["csrf_token"], username)


@pytest.fixture(scope="session")
def admin_accounts(admin_server) -> Dict[str, str]:
    suffix = uuid.uuid4().hex[:6]
    names = {"admin": f"kanri{suffix}", "admin2": f"kanri2{suffix}", "staff": f"tanaka{suffix}"}
    add_account(admin_server, names["admin"], "admin", "管理者 鈴木")
    add_account(admin_server, names["admin2"], "admin", "管理者 高橋")
    add_account(admin_server, names["staff"], "staff", "田中", section="shimin")
    return names


@pytest.fixture
def admin(admin_server, admin_accounts) -> Admin:
    return console_login(admin_server, admin_accounts["admin"])


@pytest.fixture
def second_admin(admin_server, admin_accounts) -> Admin:
    return console_login(admin_server, admin_accounts["admin2"])
