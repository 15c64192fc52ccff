"""GET /audio/<hash>.<ext> on the real server: audio file names only. (Serving a pre-synthesized
answer is tested on the phone's server, whose pre-synthesis is on: tests/channels/test_voice.py.)"""
from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize("name", [
    "0123456789abcdef0123456789abcdef.wav",  # the right shape, but no such file
    "0123456789abcdef0123456789abcdef.json",  # the metadata next to the audio is not served
    "..%2Fmadoguchi.db", "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "server.log", "x.wav",
    "0123456789ABCDEF0123456789ABCDEF.wav",
])
def test_only_audio_file_names_are_served(server, name):
    reply = httpx.get(f"{server.base_url}/audio/{name}", timeout=30)
    assert reply.status_code == 404
    assert b"sqlite" not in reply.content.lower() and b"root:" not in reply.content
