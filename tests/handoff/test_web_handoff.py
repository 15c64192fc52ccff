"""The issue's full path with the resident on the web channel: ask for a person → queued with
position → clerk logs in, claims, replies → the reply arrives live on the open page's stream
→ hand back → the bot answers the next question."""
import json
import queue
import secrets
import threading

import httpx

from bot.catalog import load_catalog
from bot.settings import PROJECT_ROOT

CATALOG = load_catalog(PROJECT_ROOT / "intents")


class PageStream:
    """What an open chat page receives over SSE, read in a background thread."""

    def __init__(self, base_url: str, sender: str) -> None:
        self.messages: "queue.Queue[dict]" = queue.Queue()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(base_url, sender), daemon=True)
        self._thread.start()
        assert self._ready.wait(30), "stream did not open"

    def _read(self, base_url: str, sender: str) -> None:
        with httpx.stream("GET", f"{base_url}/webhooks/web/events", params={"sender": sender},
                          timeout=httpx.Timeout(60, read=None)) as response:
            event = None
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                    if event == "ready":
                        self._ready.set()
                elif line.startswith("data:") and event == "messages":
                    data = json.loads(line.split(":", 1)[1])
                    for message in data["messages"] + data.get("transient", []):
                        self.messages.put(message)

    def wait_for(self, predicate, timeout: float = 30) -> dict:
        while True:
            message = self.messages.get(timeout=timeout)
            if predicate(message):
                return message

    def close(self) -> None:
        self._stop.set()


def send(server, sender: str, text: str) -> list:
    reply = httpx.post(f"{server.base_url}/webhooks/web/message", json={"sender": sender, "message": text}, timeout=60)
    reply.raise_for_status()
    return reply.json()


def test_staff_reply_reaches_the_web_page_live_and_the_bot_resumes(server, clerk):
    sender = "web-" + secrets.token_hex(16)
    page = PageStream(server.base_url, sender)
    try:
        send(server, sender, "マイナンバーカードを受け取りたい")
        send(server, sender, "人と話したい")
        joined = page.wait_for(lambda m: "番目" in (m.get("text") or ""))
        assert "順番待ち" in joined["text"] or "番目" in joined["text"]

        claimed = clerk.post(f"/conversations/{sender}/claim")
        assert claimed.status_code == 200 and claimed.json()["channel"] == "web"
        page.wait_for(lambda m: "山田" in (m.get("text") or ""))   # 「職員の山田がご案内します。」

        words = "市民課の山田です。交付通知書はお手元にありますか。"
        assert clerk.post(f"/conversations/{sender}/messages", {"text": words}).json()["delivered"] is True
        live = page.wait_for(lambda m: m.get("text") == words)
        assert live["role"] == "staff" and live["staff"]["name"] == "山田"

        assert clerk.post(f"/conversations/{sender}/handback").status_code == 200
        page.wait_for(lambda m: m.get("text") == CATALOG.phrases["staff_handback"].ja)
        send(server, sender, "何を持っていけばいい？")
        documents = page.wait_for(lambda m: "持ち物" in (m.get("text") or ""))
        for item in CATALOG.procedures["mynumber_pickup"].documents.ja:
            assert item in documents["text"]
    finally:
        page.close()


def test_queue_position_updates_reach_a_waiting_web_resident(server, clerk):
    first, second = ("web-" + secrets.token_hex(16) for _ in range(2))
    page = PageStream(server.base_url, second)
    try:
        send(server, first, "人と話したい")
        send(server, second, "人と話したい")
        before = page.wait_for(lambda m: "番目" in (m.get("text") or ""))
        place = int(before["text"].split("現在")[1].split("番目")[0])
        clerk.post(f"/conversations/{first}/claim")
        after = page.wait_for(lambda m: "番目" in (m.get("text") or ""))
        assert int(after["text"].split("現在")[1].split("番目")[0]) == place - 1
    finally:
        page.close()


def test_visit_slip_qr_code_reaches_the_web_page(server):
    sender = "web-" + secrets.token_hex(16)
    send(server, sender, "印鑑登録をしたい")
    send(server, sender, "/visit_slip")
    history = httpx.get(f"{server.base_url}/webhooks/web/history", params={"sender": sender}, timeout=30).json()
    slip = next(m for m in history["messages"] if m.get("image"))
    assert slip["image"].startswith("data:image/png;base64,") and "来庁票の番号" in slip["text"]
