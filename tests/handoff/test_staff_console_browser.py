"""The staff console page in real Chromium: keyboard login, live queue, claim, reply; axe-core
(WCAG 2.x A/AA incl. 2.2) finds no violations at login, in the queue and in a conversation."""
import json
import os
import subprocess
import uuid
from pathlib import Path

from bot.settings import PROJECT_ROOT
from tests.handoff.conftest import PASSWORD

SCRIPT = PROJECT_ROOT / "tests" / "web" / "staff.e2e.mjs"
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "web"


def test_staff_console_in_a_browser(server, accounts, clerk):
    resident = f"resident-{uuid.uuid4().hex[:10]}"
    last = f"至急の相談です{uuid.uuid4().hex[:4]}"
    server.say(resident, "人と話したい")
    server.say(resident, last)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, STAFF_USER=accounts["staff2"], STAFF_PASSWORD=PASSWORD, RESIDENT=resident,
               RESIDENT_LAST=last, WEB_ARTIFACTS=str(ARTIFACTS), CHROMIUM_PATH="/usr/bin/chromium")
    done = subprocess.run(["node", str(SCRIPT), server.base_url, "console"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])["console"]
    assert "error" not in result, result.get("error")
    assert result["lang"] == "ja"
    assert result["axeLogin"] == [] and result["axeQueue"] == [] and result["axeConversation"] == [], result
    assert result["opened"] and result["focusAfterOpen"] == "claim"
    assert "待機中" in result["queueText"]
    assert any(cls == "resident" and last in text for cls, text in result["transcript"])
    assert any(cls == "staff" and "<script>alert(1)</script>" in text for cls, text in result["transcript"])
    assert result["scriptElements"] == 0
    assert result["problems"] == []
    # The reply went to the resident's conversation, labelled as staff.
    events = server.tracker(resident)["events"]
    assert any(e["event"] == "bot" and (e.get("metadata") or {}).get("staff", {}).get("name") == "佐藤" for e in events)
    assert Path(ARTIFACTS / "staff-conversation.png").exists()


def test_staff_console_handles_an_after_hours_callback(server, accounts, clerk):
    """The resident uses the web page (button titles are kept); the clerk calls back from the console."""
    from tests.web.resident import WebResident

    browser = WebResident(server.base_url)
    resident = browser.conversation_id
    marker = f"児童手当の申請をしたい{uuid.uuid4().hex[:4]}"

    def send(text, title=None):
        browser.say(text, **({"title": title} if title else {}))

    send(marker)
    send("人と話したい")                               # こども家庭課 is closed on Saturdays
    send("/callback_request", "折り返し電話を頼む")
    send("/callback_consent", "同意して電話番号を入力する")
    send("090-2222-3333")
    # The console lists call-backs by the procedure the bot recognised.
    env = dict(os.environ, STAFF_USER=accounts["staff1"], STAFF_PASSWORD=PASSWORD, RESIDENT_LAST="児童手当",
               WEB_ARTIFACTS=str(ARTIFACTS), CHROMIUM_PATH="/usr/bin/chromium")
    done = subprocess.run(["node", str(SCRIPT), server.base_url, "callback"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])["callback"]
    assert "error" not in result, result.get("error")
    assert "児童手当" in result["queueEntry"] and "こども家庭課" in result["queueEntry"]  # the bot-made summary
    assert result["phone"] == "電話番号：09022223333"
    assert any("同意して電話番号を入力する" in line for line in result["transcript"])   # the title, not the payload
    assert not any("/callback_consent" in line for line in result["transcript"])
    assert not any("2222" in line for line in result["transcript"])
    assert result["axe"] == [] and result["callbackHidden"] and result["problems"] == []
    assert clerk.get(f"/conversations/{resident}/callback").status_code == 404  # the number is gone
