"""Residents' own data, over real HTTP against one real server (web, Telegram and LINE on):
deleting a conversation from every channel, the retention purge (CLI and daily inside
`serve`), and the server-wide settings of this issue (global cap on live streams, kiosk).

After each deletion the database file itself is read: no row of the conversation is left
in Rasa's `events` table or in ours, one audit row says that it happened (not what was
said), and the anonymous daily counts remain.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List
from zoneinfo import ZoneInfo

import httpx
import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.settings import PROJECT_ROOT
from tests.channels import test_line as line
from tests.channels import test_telegram as telegram
from tests.channels.fake_line import FakeLineApi
from tests.channels.fake_telegram import FakeBotApi
from tests.conftest import API_TOKEN, FAKE_NOW
from tests.devserver import RunningServer, running_server
from tests.handoff.conftest import add_account, login
from tests.web.resident import Stream, WebResident

SEEDED = "rest:seeded-before-start"
TABLES = ("handoffs", "callback_requests", "visit_slips", "satisfaction")


def database(var_dir: Path) -> Path:
    return Path(var_dir) / "madoguchi.db"


def query(var_dir: Path, sql: str, *params: Any) -> List[tuple]:
    with sqlite3.connect(database(var_dir), timeout=30) as connection:
        return connection.execute(sql, params).fetchall()


def traces(var_dir: Path, conversation_id: str) -> Dict[str, int]:
    """Rows of one conversation in Rasa's events table and in each of our tables."""
    counts = {"events": query(var_dir, "SELECT count(*) FROM events WHERE sender_id = ?", conversation_id)[0][0]}
    for table in TABLES:
        counts[table] = query(var_dir, f"SELECT count(*) FROM {table} WHERE conversation_id = ?", conversation_id)[0][0]
    return counts


def audit(var_dir: Path, conversation_id: str) -> List[Dict[str, Any]]:
    rows = query(var_dir, "SELECT actor, action, detail FROM audit_log WHERE conversation_id = ? "
                          "AND action = 'conversation.deleted'", conversation_id)
    return [{"actor": actor, "action": action, "detail": json.loads(detail or "{}")} for actor, action, detail in rows]


def stats(var_dir: Path) -> Dict[tuple, tuple]:
    return {(day, channel): (conversations, handoffs)
            for day, channel, conversations, handoffs in query(
                var_dir, "SELECT day, channel, conversations, handoffs FROM conversation_stats")}


def write_old_conversation(var_dir: Path, sender: str, days_ago: float) -> str:
    """A conversation whose messages are `days_ago` old, through Rasa's own SQL tracker store."""
    at = time.time() - days_ago * 86400
    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(database(var_dir)))
    tracker = DialogueStateTracker.from_events(sender, [
        UserUttered("住民票がほしい", timestamp=at),
        BotUttered("住民票の写しについてご案内します。", timestamp=at + 1),
    ])
    asyncio.run(store.save(tracker))
    return dt.datetime.fromtimestamp(at, ZoneInfo("Asia/Tokyo")).date().isoformat()  # the day counted


@pytest.fixture(scope="module")
def fake_telegram():
    api = FakeBotApi(telegram.TOKEN).start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def fake_line():
    api = FakeLineApi(line.ACCESS_TOKEN).start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def seeded_day(tmp_path_factory) -> Dict[str, Any]:
    """An old conversation (with a past handoff) written before the server starts."""
    var_dir = tmp_path_factory.mktemp("privacy-var")
    day = write_old_conversation(var_dir, SEEDED, days_ago=200)
    old = "2026-05-01 00:00:00"
    with sqlite3.connect(database(var_dir)) as connection:  # our tables, as `serve` creates them
        from bot.store import Database

        Database(f"sqlite:///{database(var_dir)}").create_tables()
        connection.execute("INSERT INTO handoffs (conversation_id, channel, state, section, language, reason, summary, "
                           "queued_at, updated_at) VALUES (?, 'rest', 'closed', 'shimin', 'ja', 'request', '{}', ?, ?)",
                           (SEEDED, old, old))
    return {"var_dir": var_dir, "day": day}


@pytest.fixture(scope="module")
def privacy_server(trained_model, fake_telegram, fake_line, seeded_day) -> RunningServer:
    extra = {"MADOGUCHI_FAKE_NOW": FAKE_NOW,
             "MADOGUCHI_TELEGRAM_TOKEN": telegram.TOKEN, "MADOGUCHI_TELEGRAM_SECRET": telegram.SECRET,
             "MADOGUCHI_TELEGRAM_API_URL": fake_telegram.url,
             "MADOGUCHI_LINE_CHANNEL_SECRET": line.SECRET, "MADOGUCHI_LINE_ACCESS_TOKEN": line.ACCESS_TOKEN,
             "MADOGUCHI_LINE_API_URL": fake_line.url,
             "MADOGUCHI_MAX_SSE_STREAMS": "3", "MADOGUCHI_KIOSK": "true", "MADOGUCHI_KIOSK_IDLE_SECONDS": "45",
             "MADOGUCHI_RETENTION_DAYS": "90"}
    with running_server(seeded_day["var_dir"], API_TOKEN, extra) as running:
        # The daily purge runs once shortly after start: wait for it before the tests write anything old.
        deadline = time.monotonic() + 90
        while traces(running.var_dir, SEEDED)["events"] and time.monotonic() < deadline:
            time.sleep(1)
        yield running


@pytest.fixture(scope="module")
def clerk(privacy_server):
    username = f"yamada{uuid.uuid4().hex[:6]}"
    add_account(privacy_server, username, "staff", "山田")
    return login(privacy_server, username)


# --- retention ---------------------------------------------------------------------------------
def test_serve_purges_conversations_past_retention_at_start_and_keeps_the_counts(privacy_server, seeded_day):
    var_dir = privacy_server.var_dir
    assert traces(var_dir, SEEDED) == {"events": 0, **{table: 0 for table in TABLES}}
    [entry] = audit(var_dir, SEEDED)
    assert entry["actor"] == "retention" and entry["detail"]["channel"] == "rest"
    assert entry["detail"]["messages"] == 2 and entry["detail"]["handoff"] is True
    assert "住民票" not in json.dumps(entry, ensure_ascii=False)                  # that it happened, not what was said
    assert stats(var_dir)[(seeded_day["day"], "rest")] == (1, 1)                  # anonymous: no id, no text
    columns = [row[1] for row in query(var_dir, "PRAGMA table_info(conversation_stats)")]
    assert columns == ["id", "day", "channel", "conversations", "handoffs"]


def run_cli(var_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, MADOGUCHI_VAR=str(var_dir))
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, env=env, timeout=120)


def test_madoguchi_purge_deletes_old_conversations_keeps_recent_ones_and_the_counts(privacy_server):
    var_dir = privacy_server.var_dir
    old_id = f"telegram:{uuid.uuid4().int % 10**9}"
    day = write_old_conversation(var_dir, old_id, days_ago=120)
    recent = WebResident(privacy_server.base_url)
    recent.say("住民票がほしい")
    before = stats(var_dir).get((day, "telegram"), (0, 0))

    assert run_cli(var_dir, "purge", "--older-than", "soon").returncode == 2     # a clear error, nothing deleted
    assert traces(var_dir, old_id)["events"] == 2

    done = run_cli(var_dir, "purge", "--older-than", "90d")
    assert done.returncode == 0, done.stderr
    assert "purged 1 conversation" in done.stdout and "telegram 1" in done.stdout
    assert traces(var_dir, old_id)["events"] == 0
    assert audit(var_dir, old_id)[0]["actor"] == "retention"
    assert traces(var_dir, recent.conversation_id)["events"] > 0                 # recent: kept
    assert [m["text"] for m in recent.history()["messages"] if m["role"] == "user"] == ["住民票がほしい"]
    assert stats(var_dir)[(day, "telegram")] == (before[0] + 1, before[1])
    again = run_cli(var_dir, "purge", "--older-than", "90d")
    assert "purged 0 conversation" in again.stdout


# --- deleting on each channel --------------------------------------------------------------------
def test_web_delete_removes_every_row_tells_the_consoles_and_starts_afresh(privacy_server, clerk):
    var_dir = privacy_server.var_dir
    resident = WebResident(privacy_server.base_url)
    resident.say("印鑑登録をしたい")
    resident.say("/visit_slip")
    resident.say("人と話したい")
    cid = resident.conversation_id
    assert any(e["conversation_id"] == cid for e in clerk.get("/queue").json()["queue"])
    before = traces(var_dir, cid)
    assert before["events"] > 0 and before["visit_slips"] == 1 and before["handoffs"] == 1
    cookie = "; ".join(f"{name}={value}" for name, value in clerk.client.cookies.items())
    console = Stream(f"{privacy_server.base_url}/staff/api/events", {}, {"Cookie": cookie}, ready_event=None)
    try:
        reply = resident.post("/delete", {"language": "ja"})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["deleted"]["visit_slips"] == 1 and body["deleted"]["waiting_section"]
        text = body["message"]["text"]
        assert "消しました" in text and "来庁票1枚" in text and "順番待ち" in text and "メッセージ" in text
        assert "HttpOnly" in reply.headers["set-cookie"] and resident.conversation_id != cid    # a fresh conversation
        assert resident.history()["messages"] == []
        told = console.next(timeout=10)
        while told.get("event") != "queue_changed" or told.get("conversation_id") != cid:
            told = console.next(timeout=10)
        assert told["state"] == "deleted"
    finally:
        console.close()
    assert traces(var_dir, cid) == {"events": 0, **{table: 0 for table in TABLES}}
    assert all(e["conversation_id"] != cid for e in clerk.get("/queue").json()["queue"])
    [entry] = audit(var_dir, cid)
    assert entry["actor"] == "resident" and entry["detail"]["channel"] == "web"
    assert "印鑑" not in json.dumps(entry, ensure_ascii=False)
    assert privacy_server_tracker_is_empty(privacy_server, cid)


def privacy_server_tracker_is_empty(server: RunningServer, conversation_id: str) -> bool:
    reply = httpx.get(f"{server.base_url}/conversations/{conversation_id}/tracker", params={"token": server.token},
                      timeout=30)
    return not [e for e in reply.json()["events"] if e["event"] in ("user", "bot")]


def test_telegram_delete_asks_with_buttons_then_deletes_call_backs_too(privacy_server, fake_telegram):
    var_dir = privacy_server.var_dir
    resident = telegram.Resident(privacy_server, fake_telegram, 700_000_000 + uuid.uuid4().int % 10**6)
    resident.say("児童手当の申請をしたい")
    resident.say("人と話したい")                 # こども家庭課 is closed on Saturdays: a call-back is offered
    resident.say("/callback_request")
    resident.say("/callback_consent")
    resident.say("090-2222-3333")
    assert traces(var_dir, resident.sender)["callback_requests"] == 1

    [question] = resident.say("/delete")
    assert "消しますか" in question.params["text"]
    assert [b["text"] for b in question.keyboard] == ["消す", "やめる"]
    [kept] = resident.press(question, "/delete_conversation_cancel")
    assert kept.params["text"] == "会話は消していません。"
    assert traces(var_dir, resident.sender)["callback_requests"] == 1

    [question] = resident.say("/delete")
    [done] = resident.press(question, "/delete_conversation_confirm")
    assert "消しました" in done.params["text"] and "折り返し電話のご依頼1件" in done.params["text"]
    assert traces(var_dir, resident.sender) == {"events": 0, **{table: 0 for table in TABLES}}
    [entry] = audit(var_dir, resident.sender)
    assert entry["actor"] == "resident" and entry["detail"]["channel"] == "telegram"
    assert entry["detail"]["callbacks"] == 1 and "090" not in json.dumps(entry)
    # The next message starts a new conversation.
    resident.say("こんにちは")
    assert [e["text"] for e in resident.user_events()] == ["こんにちは"]


def test_line_delete_asks_with_quick_replies_then_deletes(privacy_server, fake_line):
    var_dir = privacy_server.var_dir
    resident = line.Resident(privacy_server, fake_line, line.new_user_id())
    resident.say("住民票がほしい")
    assert traces(var_dir, resident.sender)["events"] > 0
    question = resident.say("会話を消す")
    assert any("消しますか" in text for call in question for text in call.texts)
    assert [a["label"] for a in line.quick_replies(question)] == ["消す", "やめる"]
    done = resident.press(question, "/delete_conversation_confirm")
    said = "\n".join(text for call in done for text in call.texts)
    assert "消しました" in said and "メッセージ" in said
    assert done[0].kind == "reply"                                   # answered with the reply token
    assert traces(var_dir, resident.sender) == {"events": 0, **{table: 0 for table in TABLES}}
    [entry] = audit(var_dir, resident.sender)
    assert entry["actor"] == "resident" and entry["detail"]["channel"] == "line"


# --- server-wide limits and settings ---------------------------------------------------------------
def test_a_global_cap_on_open_streams_answers_503_with_retry_after(privacy_server):
    """MADOGUCHI_MAX_SSE_STREAMS=3 here; open streams are never closed to make room."""
    residents = [WebResident(privacy_server.base_url) for _ in range(4)]
    streams = [r.stream() for r in residents[:3]]
    try:
        refused = residents[3].client.get("/webhooks/web/events", timeout=10)
        assert refused.status_code == 503 and int(refused.headers["retry-after"]) > 0
        assert refused.json()["error"] == "too_many_streams" and "混み合って" in refused.json()["message"]
        assert residents[3].say("こんにちは")["messages"]                        # messages still work
        assert not any(s.ended.is_set() for s in streams)
        residents[0].say("住民票がほしい")
        assert streams[0].next()["messages"][0]["text"] == "住民票がほしい"
        streams[2].close()
        time.sleep(0.5)
        fourth = residents[3].stream()
        fourth.close()
    finally:
        for stream in streams:
            stream.close()


def test_staff_consoles_share_the_cap_with_resident_pages(privacy_server, clerk):
    """Three resident pages fill the cap of 3: a console's live stream waits (503) too, and
    gets its slot back once a page closes."""
    residents = [WebResident(privacy_server.base_url) for _ in range(3)]
    streams = [r.stream() for r in residents]
    try:
        refused = clerk.get("/events", timeout=10)
        assert refused.status_code == 503 and int(refused.headers["retry-after"]) > 0
        streams[0].close()
        time.sleep(0.5)
        with clerk.client.stream("GET", "/staff/api/events", timeout=10) as live:
            assert live.status_code == 200
            assert live.headers["content-type"].startswith("text/event-stream")
    finally:
        for stream in streams:
            stream.close()


def test_kiosk_setting_reaches_the_page(privacy_server):
    info = httpx.get(f"{privacy_server.base_url}/webhooks/web/info", timeout=10).json()
    assert info["kiosk"] == {"enabled": True, "idle_seconds": 45, "countdown_seconds": 30}
