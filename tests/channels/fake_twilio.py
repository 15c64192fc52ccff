"""A local stand-in for Twilio's Messages API: same wire format, records every message.

twilio-python's REST client posts `application/x-www-form-urlencoded` (To, From, Body) to
/2010-04-01/Accounts/<AccountSid>/Messages.json with HTTP Basic auth (account SID and auth
token) and expects the message resource as JSON with 201. Like Twilio, this server refuses
wrong credentials (401) and a body without To/From/Body (400).
"""
from __future__ import annotations

import base64
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional
from urllib.parse import parse_qs


class FakeTwilioApi:
    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: List[Dict[str, str]] = []
        self.url = ""
        self._server: Optional[ThreadingHTTPServer] = None

    def start(self) -> "FakeTwilioApi":
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def answer(self, status: int, body: Dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                expected = "Basic " + base64.b64encode(f"{api.account_sid}:{api.auth_token}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self.answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
                    return
                if self.path != f"/2010-04-01/Accounts/{api.account_sid}/Messages.json":
                    self.answer(404, {"code": 20404, "message": "Not found", "status": 404})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if not all(form.get(key) for key in ("To", "From", "Body")):
                    self.answer(400, {"code": 21604, "message": "To, From and Body are required", "status": 400})
                    return
                api.messages.append(form)
                sid = "SM" + uuid.uuid4().hex
                self.answer(201, {"sid": sid, "account_sid": api.account_sid, "to": form["To"], "from": form["From"],
                                  "body": form["Body"], "status": "queued", "direction": "outbound-api",
                                  "uri": f"/2010-04-01/Accounts/{api.account_sid}/Messages/{sid}.json"})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
