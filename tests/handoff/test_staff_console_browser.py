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
