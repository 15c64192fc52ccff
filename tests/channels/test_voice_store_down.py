"""Replicas share live calls in Redis: when Redis is unreachable a caller still gets an answer —
the counter's number, in our voice — never an error tone (a 500 would make Twilio play one)."""
from __future__ import annotations

import pytest

from tests.channels.test_voice import AUTH_TOKEN, PUBLIC_URL, Caller
from tests.conftest import API_TOKEN, FAKE_NOW
from tests.devserver import RunningServer, running_server

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture(scope="module")
def server_without_redis(trained_model, tmp_path_factory) -> RunningServer:
    extra = {"MADOGUCHI_FAKE_NOW": FAKE_NOW, "MADOGUCHI_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
             "MADOGUCHI_PUBLIC_URL": PUBLIC_URL, "MADOGUCHI_TTS": "openjtalk", "MADOGUCHI_REDIS_URL": DEAD_REDIS}
    with running_server(tmp_path_factory.mktemp("voice-no-redis"), API_TOKEN, extra) as running:
        yield running


def test_a_call_while_the_shared_call_store_is_down_hears_the_counter_number(server_without_redis):
    caller = Caller(server_without_redis)
    for twiml in (caller.start(), caller.say("マイナンバーカードをなくしました"), caller.press("0")):
        assert twiml.hangs_up and twiml.plays  # spoken, then ended: no loop, no error tone
        assert all(url.startswith(f"{PUBLIC_URL}/audio/") for url in twiml.plays)
    log = (server_without_redis.var_dir / "server.log").read_text(encoding="utf-8")
    assert "the shared call store (Redis) is unreachable" in log
    assert caller.number not in log  # the caller's number never reaches the log
