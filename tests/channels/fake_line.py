"""A local stand-in for the LINE Messaging API: same wire format, records every call.

The SDK posts JSON to /v2/bot/message/reply and /v2/bot/message/push with a Bearer token and
expects `{}` with 200. Like LINE, this server refuses a wrong token (401), a reused reply
token and messages over the documented limits (400), so the channel cannot pass tests by
sending what LINE would reject. It runs on 127.0.0.1 in a thread, so both the madoguchi
server process and in-process tests can talk to it.
"""
from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Set

from aiohttp import web

MAX_MESSAGES = 5
MAX_TEXT = 5000
MAX_QUICK_REPLIES = 13
MAX_LABEL = 20
MAX_DATA = 300


@dataclass
class Call:
    kind: str  # "reply" or "push"
    body: Dict[str, Any]

    @property
    def to(self) -> Optional[str]:
        return self.body.get("to")

    @property
    def reply_token(self) -> Optional[str]:
        return self.body.get("replyToken")

    @property
    def messages(self) -> List[Dict[str, Any]]:
        return self.body.get("messages", [])

    @property
    def texts(self) -> List[str]:
        return [m.get("text", "") for m in self.messages if m.get("type") == "text"]

    @property
    def quick_replies(self) -> List[Dict[str, Any]]:
        """The actions of every quick-reply item in this call."""
        return [item["action"] for m in self.messages for item in (m.get("quickReply") or {}).get("items", [])]


class FakeLineApi:
    def __init__(self, access_token: str) -> None:
        self.access_token = access_token
        self.calls: List[Call] = []
        self.refused: List[Dict[str, Any]] = []
        self.url = ""
        self._used_tokens: Set[str] = set()
        self._lock = threading.Lock()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._runner: Optional[web.AppRunner] = None
        self._thread: Optional[threading.Thread] = None

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> "FakeLineApi":
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def serve() -> None:
            app = web.Application()
            app.router.add_post("/v2/bot/message/reply", self._reply)
            app.router.add_post("/v2/bot/message/push", self._push)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(serve())
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-line", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake LINE API did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # --- what the bot sent ---------------------------------------------------------------
    def sent(self, kind: Optional[str] = None) -> List[Call]:
        with self._lock:
            calls = list(self.calls)
        return [c for c in calls if kind is None or c.kind == kind]

    def use_reply_token(self, token: str) -> None:
        """Mark a reply token as used (expired), as LINE does after the first reply."""
        with self._lock:
            self._used_tokens.add(token)

    # --- the Messaging API -------------------------------------------------------------------
    async def _reply(self, request: web.Request) -> web.Response:
        return await self._record(request, "reply")

    async def _push(self, request: web.Request) -> web.Response:
        return await self._record(request, "push")

    async def _record(self, request: web.Request, kind: str) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.access_token}":
            return web.json_response({"message": "Authentication failed"}, status=401)
        body = await request.json()
        problem = self._problem(body, kind)
        if problem is not None:
            with self._lock:
                self.refused.append({"kind": kind, "body": body, "problem": problem})
            return web.json_response({"message": problem}, status=400)
        with self._lock:
            if kind == "reply":
                self._used_tokens.add(body["replyToken"])
            self.calls.append(Call(kind, body))
        return web.json_response({})

    def _problem(self, body: Dict[str, Any], kind: str) -> Optional[str]:
        """What LINE would answer 400 for, or None."""
        if kind == "reply":
            token = body.get("replyToken")
            if not isinstance(token, str) or not token:
                return "The property, 'replyToken', in the request body is invalid"
            with self._lock:
                if token in self._used_tokens:
                    return "Invalid reply token"
        elif not isinstance(body.get("to"), str):
            return "The property, 'to', in the request body is invalid"
        messages = body.get("messages")
        if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
            return "Size must be between 1 and 5"
        for index, message in enumerate(messages):
            if message.get("type") == "text" and not 1 <= len(message.get("text") or "") <= MAX_TEXT:
                return f"messages[{index}].text: length must be between 1 and {MAX_TEXT}"
            if message.get("type") == "image" and not str(message.get("originalContentUrl", "")).startswith("https://"):
                return f"messages[{index}].originalContentUrl: must be https"
            items = (message.get("quickReply") or {}).get("items", [])
            if len(items) > MAX_QUICK_REPLIES:
                return f"messages[{index}].quickReply.items: size must be at most {MAX_QUICK_REPLIES}"
            for item in items:
                action = item.get("action") or {}
                if not 1 <= len(action.get("label") or "") <= MAX_LABEL:
                    return f"messages[{index}].quickReply.items[].action.label: too long"
                if action.get("type") == "postback" and not 1 <= len(action.get("data") or "") <= MAX_DATA:
                    return f"messages[{index}].quickReply.items[].action.data: too long"
                if action.get("type") == "uri" and not str(action.get("uri") or "").startswith(
                        ("https://", "http://", "tel:", "line://")):
                    return f"messages[{index}].quickReply.items[].action.uri: invalid uri scheme"
                if action.get("type") not in ("postback", "message", "uri", "datetimepicker", "camera",
                                              "cameraRoll", "location"):
                    return f"messages[{index}].quickReply.items[].action.type: invalid"
        return None
