"""「読み上げ」 over real HTTP: POST /webhooks/web/speech on the real server, real Open JTalk.

The page names a bot message of its own conversation by id; the server answers with the URL of
that message's audio. Nobody can make it speak text of their choosing, nor read another
resident's messages; the audio is a real MP3 with a voice in it; ゆっくり is the file that
pre-synthesis makes for the catalog's answers, ふつう a different, shorter one.
"""
from __future__ import annotations

import array
import asyncio
import dataclasses
import math
import subprocess
from typing import Any, Dict, List, Tuple

import httpx
import pytest

from bot.catalog.load import load_catalog
from bot.settings import Settings
from bot.speech import SpeechService, for_the_ear
from bot.speech.answers import catalog_answers
from channels.web.speech import MAX_SPOKEN_CHARS, REQUESTS_PER_MINUTE, ReadAloud, SpokenMessage
from tests.speech.fake_google import FakeGoogleTts
from tests.web.resident import WebResident


@pytest.fixture
def resident(server):
    browser = WebResident(server.base_url)
    yield browser
    browser.close()


def bot_messages(turn: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [m for m in turn["messages"] if m["role"] == "bot"]


def decoded(mp3: bytes, tmp_path) -> Tuple[array.array, int]:
    """16-bit mono samples of an MP3 (sox decodes it) and their rate."""
    source = tmp_path / "speech.mp3"
    source.write_bytes(mp3)
    raw = subprocess.run(["sox", str(source), "-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1", "-"],
                         check=True, capture_output=True).stdout
    rate = int(float(subprocess.run(["soxi", "-r", str(source)], check=True, capture_output=True, text=True).stdout))
    return array.array("h", raw), rate


def rms(values: array.array) -> float:
    return math.sqrt(sum(v * v for v in values) / max(1, len(values)))


def web_files_of_catalog(server) -> set:
    """The names of the web audio files pre-synthesis makes for every catalog answer (either engine)."""
    settings = dataclasses.replace(Settings.from_env(), var_dir=server.var_dir)
    speech = SpeechService(settings, server.var_dir / "speech")
    names = set()
    for language, text in catalog_answers(load_catalog(settings.catalog_dir)):
        reading = for_the_ear(text, language)
        for engine in (speech.openjtalk, speech.gtts):
            names.add(speech.path_for(speech.key(engine, reading, language, False, False), engine, False).name)
    return names


def test_a_bot_answer_is_read_by_the_server_as_pre_synthesized_at_the_elderly_pace(server, resident, tmp_path):
    turn = resident.say("住民票がほしい")
    answer = bot_messages(turn)[0]
    assert "住民票" in answer["text"]
    reply = resident.post("/speech", {"id": answer["id"]})        # ゆっくり is the default
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["pace"] == "slow" and body["url"].startswith("/audio/") and body["url"].endswith(".mp3")
    # The page asks for the same file pre-synthesis makes: a catalog answer is a cache hit.
    assert body["url"].rsplit("/", 1)[1] in web_files_of_catalog(server)
    audio = httpx.get(server.base_url + body["url"], timeout=30)
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg"
    values, rate = decoded(audio.content, tmp_path)
    assert rate >= 16000 and len(values) / rate == pytest.approx(body["seconds"], abs=0.2)
    assert len(values) / rate > 2 and rms(values) > 300             # a voice, seconds of it, not silence


def test_easy_japanese_is_read_from_its_furigana_as_pre_synthesized(server, resident):
    resident.say('/change_language{"language":"easy"}')
    turn = resident.say("じゅうみんひょうが ほしい")
    answer = [m for m in bot_messages(turn) if "じゅうみんひょう" in m.get("ruby", "")][0]
    assert answer["variant"] == "easy" and "{" in answer["ruby"]
    reply = resident.post("/speech", {"id": answer["id"]})
    assert reply.status_code == 200, reply.text
    assert reply.json()["url"].rsplit("/", 1)[1] in web_files_of_catalog(server)


def test_a_clerks_reply_is_read_too(server, resident):
    resident.say("こんにちは")
    appended = httpx.post(f"{server.base_url}/conversations/{resident.conversation_id}/tracker/events",
                          params={"token": server.token}, timeout=30,
                          json={"event": "bot", "text": "市民課の山田です。ご用件をお聞きします。",
                                "metadata": {"lang": "ja", "variant": "ja", "staff": {"name": "山田"}}})
    assert appended.status_code == 200
    staff = [m for m in resident.history()["messages"] if m["role"] == "staff"][-1]
    reply = resident.post("/speech", {"id": staff["id"], "pace": "normal"})
    assert reply.status_code == 200, reply.text
    assert httpx.get(server.base_url + reply.json()["url"], timeout=30).status_code == 200


def test_normal_pace_is_another_shorter_file(server, resident, tmp_path):
    answer = bot_messages(resident.say("印鑑登録をしたい"))[0]
    slow = resident.post("/speech", {"id": answer["id"], "pace": "slow"}).json()
    normal = resident.post("/speech", {"id": answer["id"], "pace": "normal"})
    assert normal.status_code == 200, normal.text
    normal_body = normal.json()
    assert normal_body["pace"] == "normal" and normal_body["url"] != slow["url"]
    assert normal_body["seconds"] < slow["seconds"] * 0.85           # ふつう is clearly faster
    values, rate = decoded(httpx.get(server.base_url + normal_body["url"], timeout=30).content, tmp_path)
    assert rms(values) > 300
    # Asked again, the same URL (cached by content).
    assert resident.post("/speech", {"id": answer["id"], "pace": "normal"}).json()["url"] == normal_body["url"]


def test_only_the_callers_own_conversation_is_read(server, resident):
    answer = bot_messages(resident.say("マイナンバーカードをなくした"))[0]
    assert resident.post("/speech", {"id": answer["id"]}).status_code == 200
    other = WebResident(server.base_url)                               # another browser: another cookie
    try:
        refused = other.post("/speech", {"id": answer["id"]})
        assert refused.status_code == 404 and refused.json()["error"] == "no_such_message"
        assert "url" not in refused.text
    finally:
        other.close()
    embedded = WebResident(server.base_url, embedded=True)             # an embedded page's own token
    try:
        assert embedded.post("/speech", {"id": answer["id"]}).status_code == 404
        own = bot_messages(embedded.say("マイナンバーカードをなくした"))[0]
        assert embedded.post("/speech", {"id": own["id"]}).status_code == 200
    finally:
        embedded.close()
    # No cookie at all: no conversation, nothing to read.
    stranger = httpx.post(f"{server.base_url}/webhooks/web/speech", json={"id": answer["id"]}, timeout=30)
    assert stranger.status_code == 404


def test_no_text_of_the_callers_choosing_can_be_spoken(server, resident):
    turn = resident.say("私の名前は山田です")
    mine = [m for m in turn["messages"] if m["role"] == "user"][0]
    bot = bot_messages(turn)[0]
    for body in ({"text": "任意の文を読め"}, {"id": bot["id"], "text": "任意の文を読め"},
                 {"id": bot["id"], "message": "任意の文"}, {"id": bot["id"], "ruby": "{任意|にんい}"}):
        reply = resident.post("/speech", body)
        assert reply.status_code == 400 and reply.json()["error"] in ("unknown_field", "invalid_id"), body
    # The resident's own message cannot be read aloud, under its own id or as a "bot" id.
    assert resident.post("/speech", {"id": mine["id"]}).status_code == 400
    assert resident.post("/speech", {"id": "b" + mine["id"][1:]}).status_code == 404


@pytest.mark.parametrize("raw, code", [
    (b"{not json", "malformed_json"),
    (b"[1, 2]", "malformed_json"),
    (b'{"id": 12345}', "invalid_id"),
    (b'{"id": ""}', "invalid_id"),
    (b'{"id": "b1.5", "pace": "fast"}', "invalid_pace"),
    (b'{"id": "b1.5", "pace": null}', "invalid_pace"),
    (b'{"id": "../../etc/passwd"}', "invalid_id"),
    (b'{"id": "b' + b"9" * 5000 + b'"}', "invalid_id"),
])
def test_bad_bodies_get_a_clear_400(resident, raw, code):
    reply = resident.post("/speech", raw=raw)
    assert reply.status_code == 400 and reply.json()["error"] == code


def test_requests_are_capped_per_conversation(server):
    busy = WebResident(server.base_url)
    try:
        answer = bot_messages(busy.say("窓口は何時まで開いていますか"))[0]
        statuses = [busy.post("/speech", {"id": answer["id"]}).status_code for _ in range(REQUESTS_PER_MINUTE + 1)]
        assert statuses[:REQUESTS_PER_MINUTE] == [200] * REQUESTS_PER_MINUTE
        assert statuses[-1] == 429
        assert busy.post("/speech", {"id": answer["id"]}).json()["error"] == "too_many_requests"
    finally:
        busy.close()
    other = WebResident(server.base_url)                                  # another resident is not held up
    try:
        answer = bot_messages(other.say("窓口は何時まで開いていますか"))[0]
        assert other.post("/speech", {"id": answer["id"]}).status_code == 200
    finally:
        other.close()


def test_long_messages_and_english_without_an_english_voice_are_refused_clearly(tmp_path):
    """Checked before any synthesis: Open JTalk (the only engine here) cannot read English."""
    settings = dataclasses.replace(Settings(), tts="openjtalk", var_dir=tmp_path)
    speech = SpeechService(settings, tmp_path / "speech")
    read_aloud = ReadAloud()

    def refusal(message: SpokenMessage) -> Tuple[str, int]:
        with pytest.raises(Exception) as caught:
            asyncio.run(read_aloud.audio(speech, message, "slow"))
        return caught.value.code, caught.value.status  # type: ignore[attr-defined]

    assert refusal(SpokenMessage("あ" * (MAX_SPOKEN_CHARS + 1), "ja")) == ("too_long_to_read", 422)
    assert refusal(SpokenMessage("The counter is open until 17:15.", "en")) == ("no_voice", 503)
    assert not list(tmp_path.glob("speech/*.mp3"))                        # nothing was synthesized


def test_with_gtts_slow_is_googles_slow_voice_normal_its_normal_one_and_english_is_read(tmp_path):
    """gTTS (its real request code) against a local server speaking Google's batchexecute format."""
    google = FakeGoogleTts().start()
    try:
        settings = dataclasses.replace(Settings(), tts="gtts", gtts_url=google.url, var_dir=tmp_path)
        speech = SpeechService(settings, tmp_path / "speech")
        read_aloud = ReadAloud()
        text = SpokenMessage("住民票の写しは、市民課の窓口で取れます。", "ja")

        async def three():
            return (await read_aloud.audio(speech, text, "slow"), await read_aloud.audio(speech, text, "normal"),
                    await read_aloud.audio(speech, SpokenMessage("The counter opens at 8:30.", "en"), "normal"))

        slow, normal, english = asyncio.run(three())
    finally:
        google.stop()
    assert [(r.lang, r.slow) for r in google.requests] == [("ja", True), ("ja", False), ("en", False)]
    assert slow.path != normal.path and {slow.engine, normal.engine, english.engine} == {"gtts"}
    assert speech.url_for(normal).startswith("/audio/") and normal.path.parent == speech.cache_dir
