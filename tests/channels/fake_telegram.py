"""A local stand-in for the Telegram Bot API: same wire format, records every call.

PTB posts form fields (JSON-encoded where structured) or multipart for uploads and expects
`{"ok": true, "result": …}`; this server answers that on 127.0.0.1 from a thread, so both
the madoguchi server process and in-process tests can talk to it.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from aiohttp import web

BOT_USER = {"id": 7000001, "is_bot": True, "first_name": "Madoguchi", "username": "madoguchi_test_bot"}


@dataclass
class Call:
    method: str
    params: Dict[str, str]
    files: Dict[str, bytes] = field(default_factory=dict)

    @property
    def chat_id(self) -> Optional[int]:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def keyboard(self) -> List[Dict[str, Any]]:
        """The inline buttons of a sendMessage/sendPhoto, one list across rows."""
        markup = json.loads(self.params.get("reply_markup") or "{}")
        return [button for row in markup.get("inline_keyboard", []) for button in row]


class FakeBotApi:
    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: List[Call] = []
        self.url = ""
        self._lock = threading.Lock()
        self._ids = itertools.count(1000)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._runner: Optional[web.AppRunner] = None
        self._thread: Optional[threading.Thread] = None

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> "FakeBotApi":
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def serve() -> None:
            app = web.Application()
            app.router.add_post("/bot{token}/{method}", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            port = self._runner.addresses[0][1]
            self.url = f"http://127.0.0.1:{port}"
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(serve())
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-telegram", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake Bot API did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # --- what the bot sent ---------------------------------------------------------------
    def sent(self, chat_id: Optional[int] = None, method: Optional[str] = None) -> List[Call]:
        with self._lock:
            calls = list(self.calls)
        return [c for c in calls
                if (method is None or c.method == method) and (chat_id is None or c.chat_id == chat_id)]

    def texts(self, chat_id: int) -> str:
        return "\n".join(c.params.get("text", "") for c in self.sent(chat_id, "sendMessage"))

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    # --- the Bot API -----------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params: Dict[str, str] = {}
        files: Dict[str, bytes] = {}
        if request.content_type == "application/json":
            params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (await request.json()).items()}
        else:
            for name, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    files[name] = value.file.read()
                else:
                    params[name] = str(value)
        call = Call(method, params, files)
        problem = self._bad_keyboard(call)
        if problem:  # the Bot API refuses the whole call, as Telegram does
            return web.json_response({"ok": False, "error_code": 400, "description": f"Bad Request: {problem}"},
                                     status=400)
        with self._lock:
            self.calls.append(call)
        return web.json_response({"ok": True, "result": self._result(call)})

    @staticmethod
    def _bad_keyboard(call: Call) -> str:
        """What the Bot API says of an inline keyboard it refuses: every button has a text and
        exactly one action (callback_data of 1–64 bytes, or an http(s)/tg URL)."""
        for button in call.keyboard:
            actions = [key for key in ("url", "callback_data", "web_app", "login_url", "switch_inline_query",
                                       "switch_inline_query_current_chat", "callback_game", "pay")
                       if key in button]
            if not button.get("text") or len(actions) != 1:
                return "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
            if "callback_data" in button and not 1 <= len(button["callback_data"].encode()) <= 64:
                return "BUTTON_DATA_INVALID"
            if "url" in button and not str(button["url"]).startswith(("https://", "http://", "tg://")):
                return "inline keyboard button URL is invalid"
        return ""

    def _result(self, call: Call) -> Any:
        if call.method == "getMe":
            return BOT_USER
        if call.method in ("sendMessage", "sendPhoto"):
            message: Dict[str, Any] = {
                "message_id": next(self._ids), "date": int(time.time()), "from": BOT_USER,
                "chat": {"id": call.chat_id, "type": "private"},
            }
            if call.method == "sendMessage":
                message["text"] = call.params.get("text", "")
            else:
                message["photo"] = [{"file_id": "photo-1", "file_unique_id": "u-photo-1", "width": 256, "height": 256}]
            if call.params.get("reply_markup"):
                message["reply_markup"] = json.loads(call.params["reply_markup"])
            return message
        return True  # answerCallbackQuery, sendChatAction, setWebhook, …
