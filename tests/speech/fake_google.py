"""A local stand-in for Google Translate's TTS endpoint, in its batchexecute wire format.

gTTS posts `f.req=<url-encoded JSON>` to /_/TranslateWebserverUi/data/batchexecute, where the
JSON is `[[["jQ1olc", "[text, lang, speed, \"null\"]", null, "generic"]]]`, and reads the
answer line by line: an anti-JSON prefix `)]}'`, then length-prefixed chunks, one of them
`[["wrb.fr","jQ1olc","[\"<base64 MP3>\"]",null,null,null,"generic"], …]`. This server
answers in that format with a real MP3, records every request it understood, and can be
told to hang (accept, then say nothing) to play an unreachable Google.
"""
from __future__ import annotations

import base64
import json
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import List, Optional
from urllib.parse import parse_qs

PATH = "/_/TranslateWebserverUi/data/batchexecute"


@dataclass
class TtsRequest:
    text: str
    lang: str
    slow: bool


def tone_mp3(seconds: float = 1.0) -> bytes:
    """A real MP3 (a 440 Hz tone at 24 kHz, as Google's voice is), made by sox."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "tone.mp3"
        subprocess.run(["sox", "-n", "-r", "24000", "-c", "1", str(path), "synth", str(seconds), "sine", "440"],
                       check=True)
        return path.read_bytes()


def batchexecute_answer(audio: bytes) -> bytes:
    inner = json.dumps([base64.b64encode(audio).decode("ascii")], separators=(",", ":"))
    chunk = json.dumps([["wrb.fr", "jQ1olc", inner, None, None, None, "generic"],
                        ["di", 40], ["af.httprm", 39, "-1234567890", 27]], separators=(",", ":"))
    tail = json.dumps([["e", 4, None, None, len(chunk) + 40]], separators=(",", ":"))
    return f")]}}'\n\n{len(chunk)}\n{chunk}\n{len(tail)}\n{tail}\n".encode("utf-8")


class FakeGoogleTts:
    def __init__(self, hang: bool = False) -> None:
        self.hang = hang
        self.requests: List[TtsRequest] = []
        self.hung = 0  # requests that got no answer
        self.audio = tone_mp3()
        self._release = threading.Event()
        self._server: Optional[ThreadingHTTPServer] = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "FakeGoogleTts":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode("utf-8")
                if self.path.split("?")[0] != PATH:
                    self.send_error(404)
                    return
                rpc = json.loads(parse_qs(body)["f.req"][0])
                rpc_id, parameters = rpc[0][0][0], json.loads(rpc[0][0][1])
                if rpc_id != "jQ1olc":
                    self.send_error(400)
                    return
                text, lang, speed = parameters[0], parameters[1], parameters[2]
                fake.requests.append(TtsRequest(text, lang, speed is True))
                if fake.hang:
                    fake.hung += 1
                    fake._release.wait(30)
                    return
                answer = batchexecute_answer(fake.audio)
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
