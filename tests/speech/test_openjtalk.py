"""Real Open JTalk: valid WAV at the declared rate, not silent, at the elderly pace, cached."""
from __future__ import annotations

import array
import asyncio
import dataclasses
import math
import re
import subprocess
import wave
from pathlib import Path
from typing import List, Tuple

import pytest

from bot.catalog.load import load_catalog
from bot.settings import Settings
from bot.speech import SpeechService, for_the_ear
from bot.speech.answers import catalog_answers
from bot.speech.reading import morae

MAX_MORAE_PER_SECOND = 5.5


@pytest.fixture
def speech(tmp_path: Path) -> SpeechService:
    settings = dataclasses.replace(Settings(), tts="openjtalk", var_dir=tmp_path)
    return SpeechService(settings, tmp_path / "speech")


def samples(path: Path) -> Tuple[array.array, int]:
    with wave.open(str(path)) as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        return array.array("h", wav.readframes(wav.getnframes())), wav.getframerate()


def rms(values) -> float:
    return math.sqrt(sum(v * v for v in values) / max(1, len(values)))


def spoken_seconds(values: array.array, rate: int) -> float:
    """From the first to the last 10 ms window louder than 1% of full scale: the time the voice
    speaks, pauses at 、 and 。 included, the silence before and after left out."""
    window = rate // 100
    loud = [i for i in range(0, len(values) - window, window) if rms(values[i:i + window]) > 327]
    return (loud[-1] - loud[0] + window) / rate if loud else 0.0


def catalog_sentences() -> List[str]:
    """Sentences of real catalog answers with nothing but Japanese words (morae countable)."""
    catalog = load_catalog(Settings().catalog_dir)
    sentences = []
    for language, text in catalog_answers(catalog, ("ja",)):
        for line in for_the_ear(text, language).splitlines():
            if 25 <= len(line) <= 80 and not re.search(r"[0-9A-Za-z]", line):
                sentences.append(line)
    return sentences


def test_open_jtalk_writes_valid_wav_at_the_declared_rate(speech):
    async def both():
        return await asyncio.gather(speech.synthesize("住民票の写しは、市民課の窓口で取れます。"),
                                    speech.synthesize("住民票の写しは、市民課の窓口で取れます。", phone=True))

    web, phone = asyncio.run(both())
    assert phone.engine == "openjtalk" and phone.content_type == "audio/wav"
    values, rate = samples(phone.path)
    assert rate == phone.sample_rate == 8000
    assert phone.seconds == pytest.approx(len(values) / rate, abs=0.01)
    assert rms(values) > 100  # a voice, not silence
    assert speech.url_for(phone) == f"/audio/{phone.path.name}"
    # The web gets a 22 kHz MP3 of the same speech (sox decodes it back to check).
    assert web.engine == "openjtalk" and web.content_type == "audio/mpeg" and web.path.suffix == ".mp3"
    assert web.path.read_bytes()[:3] == b"ID3" or web.path.read_bytes()[0] == 0xFF
    decoded = web.path.with_suffix(".check.wav")
    subprocess.run(["sox", str(web.path), "-b", "16", str(decoded)], check=True)
    values, rate = samples(decoded)
    assert rate == web.sample_rate == 22050 and rms(values) > 100
    assert web.seconds == pytest.approx(phone.seconds, abs=0.01)
    assert len(values) / rate == pytest.approx(web.seconds, abs=0.1)  # MP3 frames pad the end a little


def test_elderly_pace_is_at_most_5_5_morae_per_second(speech):
    sentences = catalog_sentences()[:4] + ["お電話番号は、ゼロイチニーゼロ、キューゴー、ゼロイチナナハチです。"]
    assert len(sentences) == 5

    async def speak_all():
        return [await speech.synthesize(sentence, phone=True) for sentence in sentences]

    for sentence, audio in zip(sentences, asyncio.run(speak_all()), strict=True):
        values, rate = samples(audio.path)
        pace = morae(sentence) / spoken_seconds(values, rate)
        assert 3.0 < pace <= MAX_MORAE_PER_SECOND, f"{pace:.2f} morae/s: {sentence}"


def test_slow_is_slower_than_the_default(speech):
    text = "マイナンバーカードの受け取りには、予約が必要です。"

    async def both():
        return await speech.synthesize(text), await speech.synthesize(text, slow=True)

    normal, slow = asyncio.run(both())
    assert slow.path != normal.path and slow.seconds > normal.seconds


def test_a_second_request_is_a_cache_hit(speech):
    async def twice():
        first = await speech.synthesize("印鑑登録証明書は、一通三百円です。", phone=True)
        modified = first.path.stat().st_mtime_ns
        second = await speech.synthesize("印鑑登録証明書は、一通三百円です。", phone=True)
        return first, second, modified

    first, second, modified = asyncio.run(twice())
    assert second == first and second.path.stat().st_mtime_ns == modified
    assert speech.stats == {"hits": 1, "misses": 1, "gtts_failures": 0}
    # A new service on the same directory (a restart) finds the file too.
    again = SpeechService(speech.settings, speech.cache_dir)
    assert asyncio.run(again.synthesize("印鑑登録証明書は、一通三百円です。", phone=True)) == first
    assert again.stats["hits"] == 1


def test_concurrent_requests_for_one_text_synthesize_once(speech):
    async def together():
        return await asyncio.gather(*[speech.synthesize("転入届は、十四日以内に出してください。") for _ in range(4)])

    results = asyncio.run(together())
    assert len({audio.path for audio in results}) == 1
    assert len(list(speech.cache_dir.glob("*.mp3"))) == 1


def test_a_caller_that_leaves_does_not_cancel_the_synthesis_for_others(speech):
    async def one_leaves():
        leaving = asyncio.create_task(speech.synthesize("国民健康保険の手続きは、保険年金課です。", phone=True))
        staying = asyncio.create_task(speech.synthesize("国民健康保険の手続きは、保険年金課です。", phone=True))
        await asyncio.sleep(0.05)  # both are waiting on the one synthesis now
        leaving.cancel()
        return leaving, await staying

    leaving, audio = asyncio.run(one_leaves())
    assert leaving.cancelled()
    assert audio.engine == "openjtalk" and audio.path.exists()
