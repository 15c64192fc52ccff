"""The two speech engines behind one shape: text in, an audio file out.

- `OpenJTalk`: offline, always available here (Debian's open_jtalk + the nitech voice), run as
  a subprocess so the event loop never waits on it. It writes 48 kHz WAV.
- `Gtts`: Google's online voice through the gTTS package (MP3), run in a worker thread with a
  short timeout. `base_url` points it at another host speaking Google's wire format (tests).

`convert` (sox) turns either output into what a caller asked for: 8 kHz WAV for the phone,
22.05 kHz WAV for the web.
"""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
from pathlib import Path
from typing import List, Optional

logger = logging.getLogger(__name__)

OPEN_JTALK_DICTIONARY = Path("/var/lib/mecab/dic/open-jtalk/naist-jdic")
OPEN_JTALK_VOICE = Path("/usr/share/hts-voice/nitech-jp-atr503-m001/nitech_jp_atr503_m001.htsvoice")
GTTS_PATH = "/_/TranslateWebserverUi/data/batchexecute"


class SynthesisError(RuntimeError):
    """An engine could not turn the text into audio (missing program, bad output, timeout)."""


async def run(program: List[str], stdin: Optional[bytes] = None, timeout: float = 60.0) -> bytes:
    """Run a program without blocking the loop; its stdout, or SynthesisError with its stderr."""
    try:
        process = await asyncio.create_subprocess_exec(
            *program, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    except FileNotFoundError as error:
        raise SynthesisError(f"{program[0]} is not installed (scripts/setup.sh installs it)") from error
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin), timeout)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        raise SynthesisError(f"{program[0]} took longer than {timeout:.0f} s") from None
    if process.returncode != 0:
        raise SynthesisError(f"{program[0]} failed ({process.returncode}): {err.decode(errors='replace')[-300:]}")
    return out


class OpenJTalk:
    """Open JTalk with the nitech m001 voice; `rate` is its -r speed (0.7 ≈ 5.3 morae/s)."""

    name = "openjtalk"
    extension = ".wav"

    def __init__(self, rate: float, dictionary: Path = OPEN_JTALK_DICTIONARY, voice: Path = OPEN_JTALK_VOICE):
        self.rate = rate
        self.dictionary = dictionary
        self.voice = voice

    def identity(self, language: str, slow: bool) -> str:
        """What the sound depends on besides the text (part of the cache key)."""
        return f"openjtalk|{self.voice.stem}|r{self.speed(slow):.3f}"

    def speed(self, slow: bool) -> float:
        return round(self.rate * (0.85 if slow else 1.0), 3)

    async def render(self, reading: str, language: str, slow: bool, out: Path, background: bool = False) -> None:
        # One sentence per line: Open JTalk pauses at 、 and 。 within the line.
        program = ["open_jtalk", "-x", str(self.dictionary), "-m", str(self.voice),
                   "-r", f"{self.speed(slow):.3f}", "-ow", str(out)]
        if background and shutil.which("nice"):
            program = ["nice", "-n", "10"] + program
        await run(program, stdin=reading.encode("utf-8"))
        if not out.exists() or out.stat().st_size <= 44:
            raise SynthesisError("open_jtalk wrote no audio")


class Gtts:
    """gTTS (ja / en; `slow=True` at the elderly pace), MP3 from Google or `base_url`."""

    name = "gtts"
    extension = ".mp3"

    def __init__(self, base_url: str, timeout: float, elderly: bool):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.elderly = elderly

    def identity(self, language: str, slow: bool) -> str:
        return f"gtts|{gtts_language(language)}|{'slow' if self.slow(slow) else 'normal'}"

    def slow(self, slow: bool) -> bool:
        return slow or self.elderly

    async def render(self, reading: str, language: str, slow: bool, out: Path, background: bool = False) -> None:
        try:
            audio = await asyncio.wait_for(
                asyncio.to_thread(self._fetch, reading, gtts_language(language), self.slow(slow)),
                self.timeout + 0.5)
        except asyncio.TimeoutError:
            raise SynthesisError(f"gTTS gave no answer within {self.timeout} s") from None
        if not audio:
            raise SynthesisError("gTTS returned no audio")
        await asyncio.to_thread(out.write_bytes, audio)

    def _fetch(self, reading: str, language: str, slow: bool) -> bytes:
        from gtts import gTTSError

        tts = redirected_gtts(self.base_url)(reading, lang=language, slow=slow, lang_check=False,
                                             timeout=self.timeout)
        try:
            return b"".join(tts.stream())
        except gTTSError as error:
            raise SynthesisError(f"gTTS: {error}") from None


def gtts_language(language: str) -> str:
    return "en" if language == "en" else "ja"


def redirected_gtts(base_url: str):
    """gTTS, or a subclass whose requests go to `base_url` instead of translate.google.com.

    Only the URL of gTTS's prepared requests changes: gTTS still builds the batchexecute body,
    sends it and parses the answer with its own code.
    """
    from gtts import gTTS

    if not base_url:
        return gTTS

    class RedirectedGtts(gTTS):
        def _prepare_requests(self):
            prepared = super()._prepare_requests()
            for request in prepared:
                request.prepare_url(base_url + GTTS_PATH, None)
            return prepared

    return RedirectedGtts


async def convert(source: Path, target: Path, sample_rate: int, background: bool = False) -> None:
    """Any audio sox reads → mono 16-bit PCM WAV at `sample_rate` (Twilio <Play> takes 8 kHz PCM)."""
    program = ["sox", str(source), "-r", str(sample_rate), "-c", "1", "-b", "16", "-e", "signed-integer",
               str(target)]
    if background and shutil.which("nice"):
        program = ["nice", "-n", "10"] + program
    await run(program)


async def duration_and_rate(path: Path) -> "tuple[float, int]":
    """Seconds and sample rate of any file sox reads (MP3 from gTTS)."""
    seconds = float((await run(["soxi", "-D", str(path)])).decode().strip() or 0)
    rate = int(float((await run(["soxi", "-r", str(path)])).decode().strip() or 0))
    return seconds, rate


def available(program: str) -> bool:
    return shutil.which(program) is not None and os.access(shutil.which(program) or "", os.X_OK)
