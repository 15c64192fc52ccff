"""Request bodies and metadata are capped (issue 7, finding 7), over real HTTP and on the database.

Sanic's default body limit was 100 MB, and metadata went into every stored event: 20 MB of
metadata grew the database by 80 MB. Now bodies over 64 KB get 413 on every route before any
handler runs, and metadata must be small, shallow JSON (400 `invalid_metadata` otherwise).
"""
from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import CLOSED_TELEGRAM_SECRET, REST_TOKEN, texts

HUNDRED_KB = 100 * 1024


def big_message_body(sender: str, size: int = HUNDRED_KB) -> bytes:
    return json.dumps({"sender": sender, "message": "あ" * (size // 3)}, ensure_ascii=False).encode()


def database_bytes(var_dir: Path) -> int:
    """The SQLite database with its write-ahead log, if any."""
    return sum(path.stat().st_size for path in var_dir.glob("madoguchi.db*"))


@pytest.mark.parametrize("path", ["/webhooks/rest/webhook", "/webhooks/web/message", "/staff/api/login",
                                  "/conversations/x/tracker/events"])
def test_a_100_kb_body_gets_413_on_every_route(server, path):
    reply = httpx.post(f"{server.base_url}{path}", params={"token": server.token}, content=big_message_body("big"),
                       headers={"Content-Type": "application/json"}, timeout=60)
    assert reply.status_code == 413
    assert reply.json()["error"] == "body_too_large" and "65536" in reply.json()["message"]


def test_a_chunked_body_is_counted_too(server):
    body = big_message_body("chunked")
    chunks = (body[i:i + 8192] for i in range(0, len(body), 8192))  # no Content-Length: chunked transfer
    reply = httpx.post(f"{server.base_url}/webhooks/rest/webhook", content=chunks,
                       headers={"Content-Type": "application/json"}, timeout=60)
    assert reply.status_code == 413 and reply.json()["error"] == "body_too_large"


def test_the_server_still_answers_after_413(server):
    sender = f"after-413-{uuid.uuid4().hex[:8]}"
    for _ in range(3):
        refused = httpx.post(f"{server.base_url}/webhooks/rest/webhook", content=big_message_body(sender), timeout=60)
        assert refused.status_code == 413 and refused.json()["error"] == "body_too_large"
    assert "0120-95-0178" in texts(server.say(sender, "マイナンバーカードをなくしました"))


@pytest.mark.parametrize("path,headers", [
    ("/webhooks/telegram/webhook", {"X-Telegram-Bot-Api-Secret-Token": CLOSED_TELEGRAM_SECRET}),
    ("/webhooks/line/webhook", {"X-Line-Signature": "c2lnbmF0dXJl"}),
    ("/webhooks/rest/webhook", {"Authorization": f"Bearer {REST_TOKEN}"}),
])
def test_messaging_webhooks_get_413_before_any_check(closed_server, path, headers):
    reply = httpx.post(f"{closed_server.base_url}{path}", content=big_message_body("platform"),
                       headers={"Content-Type": "application/json", **headers}, timeout=60)
    assert reply.status_code == 413 and reply.json()["error"] == "body_too_large"


def test_a_body_just_under_the_limit_is_read(server):
    """Messages are limited by MADOGUCHI_MAX_MESSAGE_CHARS, not by the body cap: a 60 KB body is parsed."""
    body = big_message_body("just-under", 60 * 1024)
    reply = httpx.post(f"{server.base_url}/webhooks/rest/webhook", content=body,
                       headers={"Content-Type": "application/json"}, timeout=60)
    assert reply.status_code == 413 and reply.json()["error"] == "message_too_long"


OVERSIZED_METADATA = {
    "too many keys": {f"k{i}": i for i in range(21)},
    "key too long": {"k" * 65: 1},
    "too large": {"note": "x" * 5000},
    "too deep": {"a": {"b": {"c": {"d": 1}}}},
    "list too long": {"items": list(range(21))},
    "deep list": {"a": [[["x"]]]},
}


@pytest.mark.parametrize("case", sorted(OVERSIZED_METADATA))
def test_oversized_or_deep_metadata_is_refused(server, case):
    reply = httpx.post(f"{server.base_url}/webhooks/rest/webhook", timeout=60,
                       json={"sender": f"meta-{uuid.uuid4().hex[:8]}", "message": "こんにちは",
                             "metadata": OVERSIZED_METADATA[case]})
    assert reply.status_code == 400 and reply.json()["error"] == "invalid_metadata", reply.text


def test_small_metadata_is_accepted(server):
    metadata = {"page": "https://www.city.sample.lg.jp/", "tags": ["kiosk", "lobby"], "screen": {"w": 1024, "h": 768},
                "ok": True, "n": None}
    sender = f"meta-ok-{uuid.uuid4().hex[:8]}"
    assert server.say(sender, "住民票がほしい", metadata=metadata)
    user = [e for e in server.tracker(sender)["events"] if e["event"] == "user"]
    assert user[-1]["metadata"]["tags"] == ["kiosk", "lobby"]


def test_rejected_requests_do_not_grow_the_database(server):
    database = server.var_dir / "madoguchi.db"
    sender = f"burst-{uuid.uuid4().hex[:8]}"
    server.say(sender, "こんにちは")  # settle: the conversation exists, later writes would be ours
    before = database_bytes(server.var_dir)
    fat_metadata = {f"k{i}": "x" * 2900 for i in range(20)}  # ~58 KB: under the body cap, over the metadata cap
    for _ in range(20):
        assert httpx.post(f"{server.base_url}/webhooks/rest/webhook", timeout=60,
                          json={"sender": sender, "message": "こんにちは", "metadata": fat_metadata}).status_code == 400
        assert httpx.post(f"{server.base_url}/webhooks/rest/webhook", content=big_message_body(sender),
                          timeout=60).status_code == 413
    growth = database_bytes(server.var_dir) - before
    assert growth < 64 * 1024, f"the database grew by {growth} bytes"  # one stored fat message would be ~58 KB
    with sqlite3.connect(database) as db:
        events = db.execute("select count(*) from events where sender_id = ? and type_name = 'user'",
                            (f"rest:{sender}",)).fetchone()[0]
    assert events == 1  # only the settling message
