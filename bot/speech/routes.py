"""The speech service in the server: one per process (`Services.speech`), GET /audio/<name>,
background pre-synthesis."""
from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any, List, Optional

from bot.catalog.provider import CatalogProvider
from bot.settings import Settings
from bot.speech.answers import catalog_answers
from bot.speech.housekeeping import prune_cache
from bot.speech.service import KEY_LENGTH, SpeechError, SpeechService

logger = logging.getLogger(__name__)

AUDIO_NAME = re.compile(rf"^[0-9a-f]{{{KEY_LENGTH}}}\.(wav|mp3)$")
CONTENT_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg"}
CATALOG_CHECK_SECONDS = 30.0
PRUNE_SECONDS = 86400.0  # the cache is also cleaned once a day, catalog edit or not


def install_speech(app, settings: Settings, catalogs: CatalogProvider) -> SpeechService:
    """The process's speech service (returned, for the server's services), its audio route and
    its pre-synthesis of `catalogs`' answers."""
    from sanic import Blueprint, response
    from sanic.exceptions import NotFound

    speech = SpeechService(settings, settings.var_dir / "speech")
    audio = Blueprint("madoguchi_audio")

    @audio.get("/audio/<name>")
    async def serve_audio(request, name: str):
        match = AUDIO_NAME.match(name)
        path = speech.cache_dir / name
        if not match or not await asyncio.to_thread(path.is_file):
            raise NotFound("no such audio")
        return await response.file(path, mime_type=CONTENT_TYPES[match.group(1)],
                                   headers={"Cache-Control": "public, max-age=31536000, immutable"})

    app.blueprint(audio)

    tasks: List["asyncio.Task[None]"] = []

    async def start(_app, _loop) -> None:
        tasks.append(asyncio.create_task(presynthesize_forever(speech, catalogs)))

    async def stop(_app, _loop) -> None:
        while tasks:
            tasks.pop().cancel()

    if settings.tts_presynthesis or settings.tts_cache_days > 0:
        app.register_listener(start, "before_server_start")
        app.register_listener(stop, "before_server_stop")
    return speech


async def presynthesize_forever(speech: SpeechService, catalogs: Optional[CatalogProvider]) -> None:
    """Speak every catalog answer once (one at a time, niced, yielding to live callers), and
    again whenever the catalog provider hands out a new catalog. Before that, and once a day,
    delete the audio no answer uses any more (bot/speech/housekeeping.py)."""
    settings = speech.settings
    done_for: Optional[Any] = None  # the catalog last spoken (the provider hands out a new one after an edit)
    pruned_for: Optional[Any] = None
    pruned_at = 0.0
    while True:
        try:
            catalog = await catalogs.current() if catalogs is not None else None
            if catalog is not None and (catalog is not pruned_for or time.monotonic() - pruned_at > PRUNE_SECONDS):
                await prune_cache(speech, catalog, settings.tts_cache_days)
                pruned_for, pruned_at = catalog, time.monotonic()
            if settings.tts_presynthesis and catalog is not None and catalog is not done_for:
                await presynthesize(speech, catalog)
                done_for = catalog
        except asyncio.CancelledError:
            raise
        except Exception:  # never let the background work take the server down
            logger.exception("speech pre-synthesis stopped; retrying later")
        await asyncio.sleep(CATALOG_CHECK_SECONDS)


async def presynthesize(speech: SpeechService, catalog: Any, phone_and_web: bool = True) -> int:
    """Synthesize every answer of `catalog` for the phone and the web; returns how many files."""
    answers = await asyncio.to_thread(catalog_answers, catalog)
    formats = (True, False) if phone_and_web else (True,)
    total = len(answers) * len(formats)
    started = time.monotonic()
    logger.info("speech: pre-synthesizing %d catalog answers (%d files)", len(answers), total)
    count = 0
    # Every phone file first: a caller cannot wait for synthesis, a web page can show the text.
    for phone in formats:
        for language, text in answers:
            while speech.busy:  # a resident is waiting: let their synthesis have the CPU
                await asyncio.sleep(0.1)
            try:
                await speech.synthesize(text, language, phone=phone, background=True)
            except SpeechError as error:
                logger.warning("speech: pre-synthesis of one answer failed: %s", error)
            count += 1
            if count % 50 == 0:
                logger.info("speech: pre-synthesized %d/%d", count, total)
    logger.info("speech: pre-synthesized %d files in %.1f s (%s)", count, time.monotonic() - started,
                ", ".join(f"{name} {value}" for name, value in speech.stats.items()))
    return count
