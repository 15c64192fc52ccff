"""A resident's browser on the web chat, over real HTTP: an httpx client that keeps the
cookie the server issues (the server decides whose conversation it is, never the client)."""
from __future__ import annotations

import json
import queue
import socket
import threading
from typing import Any, Dict, Iterator, Optional
from urllib.parse import urlencode, urlsplit

import httpx

from channels.web import CONVERSATION_HEADER, COOKIE_NAME, conversation_id_for

WEB = "/webhooks/web"


class WebResident:
    """One browser (cookie jar) — or, with `embedded=True`, one embedded page load (a token in memory)."""

    def __init__(self, base_url: str, embedded: bool = False) -> None:
        self.base_url = base_url
        self.client = httpx.Client(base_url=base_url, timeout=60)
        self.token: Optional[str] = None
        if embedded:
            reply = self.client.post(f"{WEB}/conversation", json={"embed": True})
            reply.raise_for_status()
            self.token = reply.json()["token"]
        else:
            self.client.get(f"{WEB}/history").raise_for_status()  # the server sets the cookie

    @property
    def secret(self) -> str:
        return self.token or self.client.cookies[COOKIE_NAME]

    @property
    def conversation_id(self) -> str:
        return conversation_id_for(self.secret)

    @property
    def headers(self) -> Dict[str, str]:
        return {CONVERSATION_HEADER: self.token} if self.token else {}

    def post(self, path: str, body: Any = None, raw: Optional[bytes] = None) -> httpx.Response:
        content = raw if raw is not None else json.dumps(body or {}, ensure_ascii=False).encode()
        return self.client.post(f"{WEB}{path}", content=content,
                                headers={"content-type": "application/json", **self.headers})

    def message(self, body: Any = None, raw: Optional[bytes] = None) -> httpx.Response:
        return self.post("/message", body, raw)

    def say(self, text: str, **extra: Any) -> Dict[str, Any]:
        reply = self.message(dict(extra, message=text))
        reply.raise_for_status()
        return reply.json()

    def history(self, after: float = 0) -> Dict[str, Any]:
        reply = self.client.get(f"{WEB}/history", params={"after": after}, headers=self.headers)
        reply.raise_for_status()
        return reply.json()

    def stream(self, params: Optional[Dict[str, str]] = None, headers: Optional[Dict[str, str]] = None) -> "Stream":
        cookie = {} if self.token else {"Cookie": f"{COOKIE_NAME}={self.secret}"}
        return Stream(f"{self.base_url}{WEB}/events", params or {}, {**cookie, **self.headers, **(headers or {})})

    def close(self) -> None:
        self.client.close()


class Stream:
    """Reads an SSE stream in a thread; `next()` returns the next `messages` event.

    On a plain socket rather than httpx, so `close()` hangs up at once (shutdown wakes the
    reading thread): the server counts a stream as open until its socket closes.
    """

    def __init__(self, url: str, params: Dict[str, str], headers: Optional[Dict[str, str]] = None,
                 ready_event: Optional[str] = "ready") -> None:
        """`ready_event`: the event that means the stream is registered (None: the first line)."""
        self.ready_event = ready_event
        self.received: "queue.Queue[Dict[str, Any]]" = queue.Queue()
        self.events: "queue.Queue[str]" = queue.Queue()
        self.ready = threading.Event()
        self.ended = threading.Event()
        self.status: Optional[int] = None
        parts = urlsplit(url)
        target = parts.path + ("?" + urlencode(params) if params else "")
        lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "Accept: text/event-stream", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self._socket = socket.create_connection((parts.hostname, parts.port), timeout=60)
        self._socket.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self.ready.wait(15), f"stream did not open (status {self.status})"

    def _body_lines(self, reader: Any) -> Iterator[str]:
        """The decoded lines of a chunked body."""
        buffer = b""
        while True:
            size = int(reader.readline().strip() or b"0", 16)
            if size == 0:
                return
            buffer += reader.read(size)
            reader.readline()
            *complete, buffer = buffer.split(b"\n")
            for line in complete:
                yield line.rstrip(b"\r").decode("utf-8")

    def _run(self) -> None:
        try:
            reader = self._socket.makefile("rb")
            self.status = int(reader.readline().split()[1])
            while reader.readline().strip():
                pass  # headers
            event, data = None, []
            for line in self._body_lines(reader):
                if self.ready_event is None:
                    self.ready.set()
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line == "":
                    if event:
                        self.events.put(event)
                    if event is not None and event == self.ready_event:
                        self.ready.set()
                    elif event == "messages":
                        self.received.put(json.loads("\n".join(data)))
                    elif event is not None and data:
                        self.received.put({"event": event, **json.loads("\n".join(data))})
                    event, data = None, []
        except (OSError, ValueError, IndexError):
            pass  # hung up by close() or by the server
        finally:
            self.ended.set()

    def next(self, timeout: float = 30) -> Dict[str, Any]:
        return self.received.get(timeout=timeout)

    def close(self) -> None:
        try:
            self._socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._socket.close()
        self.ended.wait(10)
