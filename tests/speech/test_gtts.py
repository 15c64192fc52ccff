"""gTTS against a local server speaking Google's batchexecute format: gTTS's own request and
response code runs; only the host differs (MADOGUCHI_GTTS_URL)."""
from __future__ import annotations

import asyncio
import dataclasses
import wave
from pathlib import Path

import pytest

from bot.settings import Settings
from bot.speech import SpeechService
from tests.speech.fake_google import FakeGoogleTts


@pytest.fixture
def google():
    fake = FakeGoogleTts().start()
    yield fake
    fake.stop()


@pytest.fixture
def hanging_google():
    fake = FakeGoogleTts(hang=True).start()
    yield fake
    fake.stop()


def service(tmp_path: Path, url: str, mode: str = "auto") -> SpeechService:
    settings = dataclasses.replace(Settings(), tts=mode, gtts_url=url, gtts_timeout=1.0, var_dir=tmp_path)
    return SpeechService(settings, tmp_path / "speech")


def test_gtts_speaks_through_googles_wire_format(tmp_path, google):
    speech = service(tmp_path, google.url, "gtts")
    audio = asyncio.run(speech.synthesize("窓口は8:30から開いています。"))
    assert audio.engine == "gtts"
    assert audio.content_type == "audio/mpeg"
    assert audio.path.read_bytes() == google.audio  # gTTS decoded the base64 chunk it parsed
    assert audio.seconds > 0.5 and audio.sample_rate == 24000
    # The reading for the ear went out, in Japanese, slowly (elderly mode is the default).
    assert [(r.text, r.lang, r.slow) for r in google.requests] == [("窓口は8時30分から開いています。", "ja", True)]


def test_gtts_audio_for_the_phone_is_8khz_wav(tmp_path, google):
    speech = service(tmp_path, google.url, "auto")
    audio = asyncio.run(speech.synthesize("Please bring your My Number card.", language="en", phone=True))
    assert audio.engine == "gtts" and audio.content_type == "audio/wav" and audio.path.suffix == ".wav"
    with wave.open(str(audio.path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
    assert google.requests[0].lang == "en"


def test_auto_falls_back_to_open_jtalk_and_the_breaker_skips_google(tmp_path, hanging_google):
    speech = service(tmp_path, hanging_google.url, "auto")

    async def two_answers():
        first = await speech.synthesize("マイナンバーカードを持ってきてください。", phone=True)
        second = await speech.synthesize("住民票の写しは一通三百円です。", phone=True)
        return first, second

    first, second = asyncio.run(two_answers())
    assert first.engine == "openjtalk" and second.engine == "openjtalk"
    assert hanging_google.hung == 1  # asked once, never answered: the timeout let Open JTalk speak
    assert len(hanging_google.requests) == 1  # the second answer did not wait for Google at all
    assert speech.breaker.is_open and speech.stats["gtts_failures"] == 1


def test_gtts_only_mode_reports_the_failure(tmp_path, hanging_google):
    from bot.speech import SpeechError

    speech = service(tmp_path, hanging_google.url, "gtts")
    with pytest.raises(SpeechError, match="gtts"):
        asyncio.run(speech.synthesize("こんにちは。"))


def test_cache_keeps_the_engine_that_spoke(tmp_path, google):
    """A cached gTTS answer is served again without asking Google."""
    speech = service(tmp_path, google.url, "auto")

    async def twice():
        return await speech.synthesize("おはようございます。"), await speech.synthesize("おはようございます。")

    first, second = asyncio.run(twice())
    assert first == second and len(google.requests) == 1 and speech.stats["hits"] == 1


def test_settings_choose_the_engine(monkeypatch, tmp_path):
    monkeypatch.setenv("MADOGUCHI_TTS", "OpenJTalk")
    monkeypatch.setenv("MADOGUCHI_TTS_RATE", "0.5")
    monkeypatch.setenv("MADOGUCHI_GTTS_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("MADOGUCHI_TTS_PRESYNTHESIS", "off")
    settings = Settings.from_env()
    assert (settings.tts, settings.tts_rate, settings.gtts_url, settings.tts_presynthesis) == \
        ("openjtalk", 0.5, "http://127.0.0.1:9", False)
    speech = SpeechService(settings, tmp_path)
    assert [engine.name for engine in speech.engines()] == ["openjtalk"]
    assert speech.openjtalk.frame_period(slow=False) == 480  # 5 ms frames at half speed
    with pytest.raises(ValueError, match="MADOGUCHI_TTS"):
        SpeechService(dataclasses.replace(settings, tts="espeak"), tmp_path)
