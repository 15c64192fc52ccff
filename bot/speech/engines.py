"""The two speech engines behind one shape: text in, an audio file out.

- `OpenJTalk`: offline, always available here (Debian's open_jtalk + the nitech voice), run as
  a subprocess so the event loop never waits on it. It writes 48 kHz WAV.
- `Gtts`: Google's online voice through the gTTS package (MP3), run in a worker thread with a
  short timeout. `base_url` points it at another host speaking Google's wire format (tests).

`convert` (sox) turns either output into what a caller asked for: 8 kHz WAV for the phone,
22.05 kHz MP3 for the web.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import wave
from pathlib import Path
from typing import List, Optional

import numpy

from bot.background import niced

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
    """Open JTalk with the nitech m001 voice; `rate` is the speed (1.0 ≈ 9 morae/s of speech,
    0.58 ≈ 5.3 before the pauses at 、 and 。)."""

    name = "openjtalk"
    extension = ".wav"

    def __init__(self, rate: float, dictionary: Path = OPEN_JTALK_DICTIONARY, voice: Path = OPEN_JTALK_VOICE):
        self.rate = rate
        self.dictionary = dictionary
        self.voice = voice

    def identity(self, language: str, slow: bool) -> str:
        """What the sound depends on besides the text (part of the cache key)."""
        return f"openjtalk|{self.voice.stem}|p{self.frame_period(slow)}"

    def speed(self, slow: bool) -> float:
        return round(self.rate * (0.85 if slow else 1.0), 3)

    def frame_period(self, slow: bool) -> int:
        """Samples per 5 ms parameter frame, stretched by 1/speed.

        Why not open_jtalk's own -r: HTS spreads that extra time by each state's duration
        variance, so it lands almost all in the silences (measured: -r 0.6 makes the speech
        itself only 10 % slower). A longer frame period slows every sound evenly and keeps the
        pitch (the excitation is generated per sample)."""
        return round(VOICE_FRAME_PERIOD / self.speed(slow))

    async def render(self, reading: str, language: str, slow: bool, out: Path, background: bool = False) -> None:
        """One open_jtalk run per sentence (it reads only the first line of its input), joined
        with a pause after each 。: the elderly pace is slow speech *and* time between ideas.
        Open JTalk itself pauses at 、 within a sentence."""
        sentences = split_sentences(reading)
        if not sentences:
            raise SynthesisError("nothing to say")
        parts = [out.with_name(f"{out.stem}.{index}.wav") for index in range(len(sentences))]
        # Two at a time: a long answer is ready sooner on two cores, and one request never
        # takes more than two.
        slots = asyncio.Semaphore(1 if background else 2)

        async def speak(sentence: str, part: Path) -> None:
            async with slots:
                program = ["open_jtalk", "-x", str(self.dictionary), "-m", str(self.voice),
                           "-p", str(self.frame_period(slow)), "-ow", str(part)]
                await run(niced(program) if background else program, stdin=sentence.encode("utf-8"))

        # Longest first: two slots finish sooner when the short sentences fill in at the end
        # (measured: p95 of the two-core makespan 927 → 897 ms CPU on the bench answers).
        order = sorted(range(len(sentences)), key=lambda index: -len(sentences[index]))
        try:
            await asyncio.gather(*[speak(sentences[index], parts[index]) for index in order])
            await asyncio.to_thread(join_wav, parts, out, SENTENCE_PAUSE_SECONDS)
        finally:
            for part in parts:
                with contextlib.suppress(FileNotFoundError):
                    part.unlink()
        if not out.exists() or out.stat().st_size <= 44:
            raise SynthesisError("open_jtalk wrote no audio")


VOICE_FRAME_PERIOD = 240  # the nitech voice: 48 kHz, 5 ms frames
SENTENCE_PAUSE_SECONDS = 0.6
EDGE_SILENCE_SECONDS = 0.15  # Open JTalk pads each sentence with ~0.5 s (more when slowed): trim to this
SILENT_SAMPLE = 200  # |sample| below this (of 32767) is silence at the edges
SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]*")


def split_sentences(reading: str) -> List[str]:
    """`reading` cut after each 。 (and at line ends), without empty pieces."""
    return [piece.strip() for piece in SENTENCE.findall(reading) if piece.strip(" 。、\n")]


def join_wav(parts: List[Path], out: Path, pause: float) -> None:
    """Concatenate WAV files of one format with `pause` seconds of silence between them."""
    with wave.open(str(parts[0]), "rb") as first:
        params = first.getparams()
    silence = b"\0" * (int(params.framerate * pause) * params.sampwidth * params.nchannels)
    with wave.open(str(out), "wb") as joined:
        joined.setparams(params)
        for index, part in enumerate(parts):
            with wave.open(str(part), "rb") as audio:
                frames = audio.readframes(audio.getnframes())
            if index:
                joined.writeframes(silence)
            joined.writeframes(trim_silence(frames, params.framerate, EDGE_SILENCE_SECONDS))


def trim_silence(frames: bytes, rate: int, keep: float) -> bytes:
    """16-bit mono PCM without its leading and trailing silence beyond `keep` seconds: the
    phone answers sooner, and the pause between sentences is the one we choose. (numpy: a
    loop over 48 kHz samples in Python cost ~10 ms per sentence on the caller's wait.)"""
    samples = numpy.frombuffer(frames, dtype="<i2")
    loud = numpy.flatnonzero(numpy.abs(samples.astype(numpy.int32)) > SILENT_SAMPLE)
    if loud.size == 0:
        return frames
    margin = int(rate * keep)
    return samples[max(0, int(loud[0]) - margin):int(loud[-1]) + margin].tobytes()


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
    """Any audio sox reads → mono at `sample_rate`: 16-bit PCM WAV (Twilio <Play> takes 8 kHz
    PCM) or, for a `.mp3` target, 48 kbit/s MP3 (the web: a tenth of the WAV's size)."""
    encoding = ["-C", "48"] if target.suffix == ".mp3" else ["-b", "16", "-e", "signed-integer"]
    program = ["sox", str(source), "-r", str(sample_rate), "-c", "1"] + encoding + [str(target)]
    await run(niced(program) if background else program)


async def duration_and_rate(path: Path) -> "tuple[float, int]":
    """Seconds and sample rate of any file sox reads (MP3 from gTTS), from one `soxi` run
    ("Sample Rate : 24000", "Duration : 00:00:01.37 = 32832 samples ~ …")."""
    described = (await run(["soxi", str(path)])).decode(errors="replace")
    rate = re.search(r"^Sample Rate\s*:\s*(\d+)", described, re.MULTILINE)
    samples = re.search(r"^Duration\s*:.*?=\s*(\d+) samples", described, re.MULTILINE)
    if rate is None or samples is None or not int(rate.group(1)):
        raise SynthesisError(f"soxi could not read {path.name}")
    return int(samples.group(1)) / int(rate.group(1)), int(rate.group(1))


def available(program: str) -> bool:
    return shutil.which(program) is not None and os.access(shutil.which(program) or "", os.X_OK)
