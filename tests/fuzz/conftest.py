"""One hostile-input server for the fuzzers and the rate-limit tests: every channel on (Telegram and
LINE against local fakes, the phone with a Twilio auth token), Rasa's API with a token (to read
trackers), a copy of the catalog (the admin API may write to it), small rate limits with a short
window (a flood and its reset take seconds), behind one pretend proxy (X-Forwarded-For names the
client, so a test can be many addresses)."""
from __future__ import annotations

import shutil
import uuid
from typing import Dict

import httpx
import pytest

from bot.settings import PROJECT_ROOT
from tests.conftest import API_TOKEN, FAKE_NOW, REDIS_URL
from tests.devserver import running_server
from tests.handoff.conftest import PASSWORD, Clerk, add_account, login

CONVERSATION_LIMIT = 3
ADDRESS_LIMIT = 4
WINDOW_SECONDS = 12  # a flood (a few turns) fits in one; each test waits for a fresh one
TELEGRAM_TOKEN = "123456789:FUZZ-madoguchi"
TELEGRAM_SECRET = "fuzz_telegram_secret"
LINE_SECRET = "fuzz-line-channel-secret"
LINE_ACCESS_TOKEN = "fuzz-line-access-token"
TWILIO_AUTH_TOKEN = "fuzz-twilio-auth-token-0123456789abcdef"
PUBLIC_URL = "http://madoguchi.fuzz.example"  # Twilio signs the public URL (http: cookies without Secure)


@pytest.fixture(scope="session")
def hostile_server(trained_model, tmp_path_factory):
    from tests.channels.fake_line import FakeLineApi
    from tests.channels.fake_telegram import FakeBotApi

    catalog = tmp_path_factory.mktemp("fuzz-catalog") / "intents"
    shutil.copytree(PROJECT_ROOT / "intents", catalog)
    telegram = FakeBotApi(TELEGRAM_TOKEN).start()
    line = FakeLineApi(LINE_ACCESS_TOKEN).start()
    env = {"MADOGUCHI_FAKE_NOW": FAKE_NOW, "MADOGUCHI_REDIS_URL": REDIS_URL, "MADOGUCHI_TRUSTED_PROXIES": "1",
           "MADOGUCHI_CATALOG": str(catalog), "MADOGUCHI_BUILD": str(catalog.parent / "build"),
           "MADOGUCHI_RATE_LIMIT_CONVERSATION": str(CONVERSATION_LIMIT),
           "MADOGUCHI_RATE_LIMIT_ADDRESS": str(ADDRESS_LIMIT), "MADOGUCHI_RATE_LIMIT_WINDOW": f"{WINDOW_SECONDS}s",
           "MADOGUCHI_TELEGRAM_TOKEN": TELEGRAM_TOKEN, "MADOGUCHI_TELEGRAM_SECRET": TELEGRAM_SECRET,
           "MADOGUCHI_TELEGRAM_API_URL": telegram.url, "MADOGUCHI_LINE_CHANNEL_SECRET": LINE_SECRET,
           "MADOGUCHI_LINE_ACCESS_TOKEN": LINE_ACCESS_TOKEN, "MADOGUCHI_LINE_API_URL": line.url,
           "MADOGUCHI_TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN, "MADOGUCHI_PUBLIC_URL": PUBLIC_URL,
           "MADOGUCHI_TTS": "openjtalk"}
    try:
        with running_server(tmp_path_factory.mktemp("var-hostile"), API_TOKEN, env) as running:
            running.telegram = telegram  # type: ignore[attr-defined]  (the fake Bot API, for what was sent)
            yield running
    finally:
        telegram.stop()
        line.stop()


@pytest.fixture(scope="session")
def hostile_accounts(hostile_server) -> Dict[str, str]:
    suffix = uuid.uuid4().hex[:6]
    names = {"staff": f"fuzzstaff{suffix}", "admin": f"fuzzadmin{suffix}"}
    add_account(hostile_server, names["staff"], "staff", "職員", section="shimin")
    add_account(hostile_server, names["admin"], "admin", "管理者")
    return names


@pytest.fixture(scope="session")
def staff_clerk(hostile_server, hostile_accounts) -> Clerk:
    return login(hostile_server, hostile_accounts["staff"])


@pytest.fixture(scope="session")
def admin_clerk(hostile_server, hostile_accounts) -> Clerk:
    """An admin logged in through the admin console's own login (its cookie is scoped to /admin)."""
    client = httpx.Client(base_url=hostile_server.base_url, timeout=60)
    reply = client.post("/admin/api/login", json={"username": hostile_accounts["admin"], "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return Clerk(client, reply.json()["csrf_token"], hostile_accounts["admin"])
