"""GET /audio/<hash>.<ext> on the real server, and the server's background pre-synthesis."""
from __future__ import annotations

import asyncio
import dataclasses
import time

import httpx
import pytest

from bot.catalog.load import load_catalog
from bot.settings import Settings
from bot.speech import SpeechService, for_the_ear
from bot.speech.answers import catalog_answers


@pytest.fixture(scope="module")
def server_speech(server) -> SpeechService:
    """A speech service on the server's own cache (same settings as `madoguchi serve` there)."""
    settings = dataclasses.replace(Settings.from_env(), var_dir=server.var_dir)
    return SpeechService(settings, server.var_dir / "speech")


def test_the_server_pre_synthesizes_catalog_answers_and_serves_them(server, server_speech):
    language, text = catalog_answers(load_catalog(Settings().catalog_dir))[0]
    key = server_speech.key(server_speech.openjtalk, for_the_ear(text, language), language, False, True)
    expected = server_speech.cache_dir / f"{key}.wav"
    deadline = time.monotonic() + 300  # the first answer, spoken while the model loads or soon after
    while not expected.exists():
        assert time.monotonic() < deadline, "the server did not pre-synthesize the first catalog answer"
        time.sleep(0.5)
    # The same request in another process finds the server's file (content-hash cache).
    audio = asyncio.run(server_speech.synthesize(text, language, phone=True))
    assert audio.path == expected and server_speech.stats["hits"] == 1
    reply = httpx.get(server.base_url + server_speech.url_for(audio), timeout=30)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "audio/wav"
    assert "immutable" in reply.headers["cache-control"]
    assert reply.content == expected.read_bytes() and reply.content[:4] == b"RIFF"


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
