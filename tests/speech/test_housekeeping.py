"""Speech cache housekeeping: audio no catalog answer uses and untouched for N days is deleted.

Real Open JTalk files in a temporary cache; their age is set with os.utime (a month is too
long to wait for)."""
from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from pathlib import Path

from bot.catalog.provider import CatalogProvider
from bot.settings import Settings
from bot.speech import SpeechService, routes
from bot.speech.answers import catalog_answers
from bot.speech.housekeeping import prune_cache

DAY = 86400


def service(tmp_path: Path, presynthesis: bool = False, cache_days: int = 30) -> SpeechService:
    settings = dataclasses.replace(Settings(), tts="openjtalk", var_dir=tmp_path, tts_presynthesis=presynthesis,
                                   tts_cache_days=cache_days)
    return SpeechService(settings, tmp_path / "speech")


def age(path: Path, days: float) -> None:
    then = time.time() - days * DAY
    os.utime(path, (then, then))


def files_of(speech: SpeechService, audio) -> list:
    return [audio.path, speech.cache_dir / f"{audio.path.stem}.json"]


def test_unused_old_audio_is_deleted_and_what_is_used_stays(tmp_path):
    provider = CatalogProvider(Settings().catalog_dir)
    catalog = provider.get()
    speech = service(tmp_path)
    language, answer = min(catalog_answers(catalog), key=lambda item: len(item[1]))

    async def scenario():
        in_catalog = await speech.synthesize(answer, language, phone=True)
        gone = await speech.synthesize("先月のお知らせは終わりました。", phone=True)  # an answer edited away
        recent = await speech.synthesize("今週のお知らせです。", phone=True)
        still_heard = await speech.synthesize("毎日流れる案内です。", phone=True)  # not in the catalog, but played
        for audio in (in_catalog, gone, still_heard):
            for path in files_of(speech, audio):
                age(path, 40)
        recent_but_not_old = files_of(speech, recent)
        age(recent_but_not_old[0], 10)
        leftover = speech.cache_dir / ".0123abcd.999.raw.wav"  # an interrupted synthesis
        leftover.write_bytes(b"RIFF")
        age(leftover, 40)
        again = await speech.synthesize("毎日流れる案内です。", phone=True)  # a cache hit renews the file
        assert again == still_heard and speech.stats["hits"] == 1
        deleted = await prune_cache(speech, catalog, 30)
        return in_catalog, gone, recent, still_heard, leftover, deleted

    in_catalog, gone, recent, still_heard, leftover, deleted = asyncio.run(scenario())
    assert deleted == 3  # the edited-away answer's audio and sidecar, and the leftover
    assert not any(path.exists() for path in files_of(speech, gone)) and not leftover.exists()
    for audio in (in_catalog, recent, still_heard):
        assert all(path.exists() for path in files_of(speech, audio)), audio
    assert asyncio.run(prune_cache(speech, catalog, 0)) == 0  # 0 days: housekeeping is off
    age(in_catalog.path, 400)
    assert asyncio.run(prune_cache(speech, catalog, 30)) == 0  # the catalog still says it: kept however old


def test_the_background_task_cleans_the_cache_even_without_presynthesis(tmp_path):
    provider = CatalogProvider(Settings().catalog_dir)
    speech = service(tmp_path, presynthesis=False, cache_days=30)
    stale = asyncio.run(speech.synthesize("もう使わない案内です。", phone=True))
    for path in files_of(speech, stale):
        age(path, 31)

    async def scenario():
        task = asyncio.create_task(routes.presynthesize_forever(speech, provider))
        try:
            while await asyncio.to_thread(stale.path.exists):
                await asyncio.sleep(0.1)
        finally:
            task.cancel()

    asyncio.run(asyncio.wait_for(scenario(), 60))
    assert not (speech.cache_dir / f"{stale.path.stem}.json").exists()
    assert speech.stats["misses"] == 1  # nothing was pre-synthesized
