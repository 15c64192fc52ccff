"""The speech service: text → cached audio file, from gTTS or Open JTalk.

One instance per process (`Services.speech`). A file's name is the hash of everything its
sound depends on (engine, voice, speed, language, output format and the text as read), so
the same answer is synthesized once and its URL never changes. Engines run off the event
loop (subprocesses and a worker thread); so do all file reads and writes.

`auto` asks gTTS first and falls back at once to Open JTalk; after a gTTS failure a circuit
breaker skips gTTS for `breaker_seconds`, so an unreachable Google never slows a call.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import time
import wave
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Union

from bot.settings import Settings
from bot.speech.engines import Gtts, OpenJTalk, SynthesisError, convert, duration_and_rate
from bot.speech.reading import for_the_ear

logger = logging.getLogger(__name__)

ENGINE_CHOICES = ("auto", "openjtalk", "gtts")
PHONE_RATE = 8000  # Twilio <Play>: 8 kHz mono 16-bit PCM WAV
WEB_RATE = 22050  # the web gets MP3 at this rate
KEY_LENGTH = 32  # hex digits of sha256 in a file name
TOUCH_AFTER_SECONDS = 86400.0  # a cache hit renews its file's time at most once a day (bot/speech/housekeeping.py)
Engine = Union[OpenJTalk, Gtts]


@dataclass(frozen=True)
class Audio:
    """One synthesized file: where it is, what it is, how long it plays, which engine made it."""

    path: Path
    content_type: str
    sample_rate: int
    seconds: float
    engine: str

    @property
    def name(self) -> str:
        return self.path.name


class CircuitBreaker:
    """Open (skip the engine) for `cooldown` seconds after a failure; closed again after that."""

    def __init__(self, cooldown: float, monotonic: Callable[[], float] = time.monotonic):
        self.cooldown = cooldown
        self._monotonic = monotonic
        self._open_until = 0.0

    @property
    def is_open(self) -> bool:
        return self._monotonic() < self._open_until

    def failed(self) -> None:
        self._open_until = self._monotonic() + self.cooldown

    def succeeded(self) -> None:
        self._open_until = 0.0


class SpeechError(RuntimeError):
    """No engine could speak the text."""


class SpeechService:
    def __init__(self, settings: Settings, cache_dir: Path, breaker_seconds: float = 60.0):
        if settings.tts not in ENGINE_CHOICES:
            raise ValueError(f"MADOGUCHI_TTS must be one of {', '.join(ENGINE_CHOICES)}, not {settings.tts!r}")
        self.settings = settings
        self.cache_dir = Path(cache_dir)
        self.mode = settings.tts
        self.openjtalk = OpenJTalk(settings.tts_rate)
        self.gtts = Gtts(settings.gtts_url, settings.gtts_timeout, elderly=settings.tts_rate < 1.0)
        self.breaker = CircuitBreaker(breaker_seconds)
        self._inflight: Dict[str, "asyncio.Future[Audio]"] = {}  # key → synthesis running now
        self._live = 0  # callers waiting right now: background pre-synthesis yields to them
        self.stats = {"hits": 0, "misses": 0, "gtts_failures": 0}

    # --- public ------------------------------------------------------------------------
    async def synthesize(self, text: str, language: str = "ja", slow: bool = False,
                         phone: bool = False, background: bool = False) -> Audio:
        """The audio of `text` read for the ear (cached). `phone`: 8 kHz WAV; else MP3.
        `background`: low priority (pre-synthesis): niced processes."""
        reading = for_the_ear(text, language)
        if not reading.strip():
            raise SpeechError("nothing to say")
        if not background:
            self._live += 1
        try:
            for engine in self.engines():
                cached = await self._cached(self.key(engine, reading, language, slow, phone))
                if cached is not None:
                    self.stats["hits"] += 1
                    return cached
            self.stats["misses"] += 1
            problems = []
            for engine in self.engines():
                if engine is self.gtts and self.mode == "auto" and self.breaker.is_open:
                    continue
                try:
                    return await self._once(engine, reading, language, slow, phone, background)
                except SynthesisError as error:
                    problems.append(f"{engine.name}: {error}")
                    if engine is self.gtts:
                        self.stats["gtts_failures"] += 1
                        self.breaker.failed()
                        logger.warning("gTTS failed (%s); Open JTalk speaks for the next %.0f s",
                                       error, self.breaker.cooldown)
            raise SpeechError("; ".join(problems) or "no engine available")
        finally:
            if not background:
                self._live -= 1

    def at_rate(self, rate: float) -> "SpeechService":
        """This service speaking at another Open JTalk `rate` (the web's ふつう beside the elderly
        pace; gTTS at its normal speed when `rate` is faster). It shares the cache folder (same
        /audio/ URLs), the circuit breaker (an unreachable Google is skipped by both) and the counters."""
        sibling = SpeechService(replace(self.settings, tts_rate=rate), self.cache_dir, self.breaker.cooldown)
        sibling.breaker, sibling.stats = self.breaker, self.stats
        sibling.gtts.elderly = self.gtts.elderly and rate <= self.openjtalk.rate
        return sibling

    def url_for(self, audio: Audio) -> str:
        """The stable path the audio is served at (GET /audio/<hash>.<ext>)."""
        return f"/audio/{audio.path.name}"

    def engines(self) -> List[Engine]:
        if self.mode == "openjtalk":
            return [self.openjtalk]
        if self.mode == "gtts":
            return [self.gtts]
        return [self.gtts, self.openjtalk]

    def speaks_well(self, language: str) -> bool:
        """Can this service say `language` clearly right now? Open JTalk reads only Japanese
        well; English needs gTTS, and not while its circuit breaker is open."""
        if language != "en":
            return True
        return self.mode != "openjtalk" and not (self.mode == "auto" and self.breaker.is_open)

    @property
    def busy(self) -> bool:
        """A resident is waiting for audio right now."""
        return self._live > 0

    # --- cache ---------------------------------------------------------------------------
    def key(self, engine: Engine, reading: str, language: str, slow: bool, phone: bool) -> str:
        output = f"wav{PHONE_RATE}" if phone else (f"mp3-{WEB_RATE}" if engine is self.openjtalk else "mp3")
        material = "\n".join([engine.identity(language, slow), language, output, reading])
        return hashlib.sha256(material.encode("utf-8")).hexdigest()[:KEY_LENGTH]

    def path_for(self, key: str, engine: Engine, phone: bool) -> Path:
        extension = ".wav" if phone else ".mp3"
        return self.cache_dir / f"{key}{extension}"

    async def _cached(self, key: str) -> Optional[Audio]:
        return await asyncio.to_thread(self._read_sidecar, key)

    def _read_sidecar(self, key: str) -> Optional[Audio]:
        sidecar = self.cache_dir / f"{key}.json"
        try:
            data = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        audio = Audio(**{**data, "path": self.cache_dir / data["path"]})
        try:
            modified = audio.path.stat().st_mtime
        except FileNotFoundError:
            return None
        if time.time() - modified > TOUCH_AFTER_SECONDS:  # still in use: housekeeping keeps it
            with contextlib.suppress(OSError):
                os.utime(audio.path)
                os.utime(sidecar)
        return audio

    def _write_sidecar(self, key: str, audio: Audio) -> None:
        data = {**asdict(audio), "path": audio.path.name}
        with atomic_path(self.cache_dir / f"{key}.json") as temporary:
            temporary.write_text(json.dumps(data), encoding="utf-8")

    # --- synthesis -------------------------------------------------------------------------
    async def _once(self, engine: Engine, reading: str, language: str, slow: bool, phone: bool,
                    background: bool) -> Audio:
        """Synthesize one key once, however many callers ask for it at the same time. The work
        is its own task: a caller that gives up (a hung-up call) does not cancel it for others."""
        key = self.key(engine, reading, language, slow, phone)
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._synthesize(engine, key, reading, language, slow, phone, background))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(task)

    def _finished(self, key: str, task: "asyncio.Future[Audio]") -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here too: no "never retrieved" warning when every caller left

    async def _synthesize(self, engine: Engine, key: str, reading: str, language: str, slow: bool,
                          phone: bool, background: bool) -> Audio:
        await asyncio.to_thread(self.cache_dir.mkdir, parents=True, exist_ok=True)
        target = self.path_for(key, engine, phone)
        raw = self.cache_dir / f".{key}.{os.getpid()}.raw{engine.extension}"
        converted = self.cache_dir / f".{key}.{os.getpid()}.out{target.suffix}"
        try:
            await engine.render(reading, language, slow, raw, background=background)
            if phone:  # 8 kHz PCM WAV from either engine
                await convert(raw, converted, PHONE_RATE, background=background)
                seconds, rate = await asyncio.to_thread(wav_length, converted)
                await asyncio.to_thread(os.replace, converted, target)
            elif engine is self.gtts:  # Google's MP3 as it came
                seconds, rate = await duration_and_rate(raw)
                await asyncio.to_thread(os.replace, raw, target)
            else:  # Open JTalk's 48 kHz WAV → 22 kHz MP3
                seconds, _ = await asyncio.to_thread(wav_length, raw)
                await convert(raw, converted, WEB_RATE, background=background)
                rate = WEB_RATE
                await asyncio.to_thread(os.replace, converted, target)
            content_type = "audio/wav" if phone else "audio/mpeg"
        finally:
            for leftover in (raw, converted):
                with contextlib.suppress(FileNotFoundError):
                    await asyncio.to_thread(leftover.unlink)
        if engine is self.gtts:
            self.breaker.succeeded()
        audio = Audio(target, content_type, rate, round(seconds, 3), engine.name)
        await asyncio.to_thread(self._write_sidecar, key, audio)
        return audio


def wav_length(path: Path) -> "tuple[float, int]":
    with wave.open(str(path), "rb") as audio:
        return audio.getnframes() / float(audio.getframerate()), audio.getframerate()


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary sibling that replaces `path` when the block succeeds."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
