"""The issue's full path with the resident on the web channel: ask for a person → queued with
position → clerk logs in, claims, replies → the reply arrives live on the open page's stream
→ hand back → the bot answers the next question."""
import json
import queue
import threading

import httpx

from bot.catalog import load_catalog
from bot.settings import PROJECT_ROOT
from channels.web import COOKIE_NAME
from tests.web.resident import WebResident

CATALOG = load_catalog(PROJECT_ROOT / "intents")


class PageStream:
    """What an open chat page receives over SSE, read in a background thread."""

    def __init__(self, base_url: str, resident: WebResident) -> None:
        self.messages: "queue.Queue[dict]" = queue.Queue()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(base_url, resident.secret), daemon=True)
        self._thread.start()
        assert self._ready.wait(30), "stream did not open"

    def _read(self, base_url: str, secret: str) -> None:
        with httpx.stream("GET", f"{base_url}/webhooks/web/events", headers={"Cookie": f"{COOKIE_NAME}={secret}"},
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


def send(server, resident: WebResident, text: str) -> list:
    return resident.say(text)


def test_staff_reply_reaches_the_web_page_live_and_the_bot_resumes(server, clerk):
    resident = WebResident(server.base_url)
    sender = resident.conversation_id
    page = PageStream(server.base_url, resident)
    try:
        send(server, resident, "マイナンバーカードを受け取りたい")
        send(server, resident, "人と話したい")
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
        send(server, resident, "何を持っていけばいい？")
        documents = page.wait_for(lambda m: "持ち物" in (m.get("text") or ""))
        for item in CATALOG.procedures["mynumber_pickup"].documents.ja:
            assert item in documents["text"]
    finally:
        page.close()


def test_queue_position_updates_reach_a_waiting_web_resident(server, clerk):
    residents = [WebResident(server.base_url) for _ in range(2)]
    first = residents[0].conversation_id
    page = PageStream(server.base_url, residents[1])
    try:
        send(server, residents[0], "人と話したい")
        send(server, residents[1], "人と話したい")
        before = page.wait_for(lambda m: "番目" in (m.get("text") or ""))
        place = int(before["text"].split("現在")[1].split("番目")[0])
        clerk.post(f"/conversations/{first}/claim")
        after = page.wait_for(lambda m: "番目" in (m.get("text") or ""))
        assert int(after["text"].split("現在")[1].split("番目")[0]) == place - 1
    finally:
        page.close()


def test_visit_slip_qr_code_reaches_the_web_page(server):
    resident = WebResident(server.base_url)
    send(server, resident, "印鑑登録をしたい")
    send(server, resident, "/visit_slip")
    history = resident.history()
    slip = next(m for m in history["messages"] if m.get("image"))
    assert slip["image"].startswith("data:image/png;base64,") and "来庁票の番号" in slip["text"]
