"""「読み上げ」 on the web page: the server's own voice for a message of the caller's conversation.

  POST /webhooks/web/speech  {"id": "b<timestamp>", "pace": "slow" | "normal"}
       → {"url": "/audio/<hash>.mp3", "seconds": …, "pace": …}

Kiosk Chromium on Linux has no speech voice, so the page plays audio from the speech service
(`Services.speech`: gTTS or Open JTalk) instead. The page names a message by its id, never by
its text: the server reads only what it (or a clerk) said in *this* conversation, found in the
tracker, so nobody can make it synthesize text of their choosing. Requests are capped per
conversation, and at most a few syntheses for the web run at once.

Paces: ゆっくり (`slow`, the default) is the elderly pace of MADOGUCHI_TTS_RATE, the same audio
that pre-synthesis makes for every catalog answer, so the common case is a cache hit;
ふつう (`normal`) is NORMAL_RATE_FACTOR times faster, synthesized on first use and cached.
"""
from __future__ import annotations

import collections
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Deque, Iterable, Mapping, Optional, Tuple

from bot.speech import Audio, SpeechError, SpeechService
from channels.inbound import InboundError
from channels.outbound import remember

PACES = ("slow", "normal")
NORMAL_RATE_FACTOR = 1.4  # ふつう: 0.58 → 0.81, about 7 morae/s instead of the elderly 5
MAX_RATE = 1.0  # Open JTalk's own speed: faster is hard to follow for anyone
MAX_SPOKEN_CHARS = 1500  # about five minutes at the elderly pace; the longest catalog answer is ~620
REQUESTS_PER_MINUTE = 30  # per conversation: far more than anyone listens to
MAX_CONVERSATIONS = 10_000  # conversations whose recent requests are remembered
MAX_AT_ONCE = 4  # web read-aloud requests in progress in this process
MESSAGE_ID = re.compile(r"^b\d{1,12}(?:\.\d{1,20})?$")  # a bot message's id in the page (its tracker timestamp)
FIELDS = {"id", "pace"}
SPOKEN_LANGUAGES = ("ja", "easy", "en")


@dataclass(frozen=True)
class SpeechRequest:
    message_id: str
    pace: str


@dataclass(frozen=True)
class SpokenMessage:
    """What is read: the text as the catalog wrote it (furigana markup gives the readings) and its language."""

    text: str
    language: str


def parse_speech_request(body: Mapping[str, Any]) -> SpeechRequest:
    """The page's request: a message id and a pace, nothing else (no text can be sent)."""
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise InboundError("unknown_field", f"Only `id` and `pace` may be sent, not {', '.join(unknown)}.")
    message_id, pace = body.get("id"), body.get("pace", "slow")
    if not isinstance(message_id, str) or not MESSAGE_ID.match(message_id):
        raise InboundError("invalid_id", "`id` must be the id of a bot message of this conversation (b<timestamp>).")
    if pace not in PACES:
        raise InboundError("invalid_pace", "`pace` must be \"slow\" or \"normal\".")
    return SpeechRequest(message_id, pace)


def spoken_message(events: Iterable[Any], message_id: str) -> Optional[SpokenMessage]:
    """The bot (or staff) message with this id among the conversation's events; None if there is none."""
    for event in reversed(list(events)):
        if getattr(event, "type_name", None) != "bot" or f"b{event.timestamp!r}" != message_id:
            continue
        message = {**(event.data or {}), **(event.metadata or {})}
        ruby, text = message.get("ruby"), event.text or ""
        # The source with furigana markup is what pre-synthesis speaks: same text, same cache key.
        spoken = ruby if isinstance(ruby, str) and ruby else text
        variant = message.get("variant")
        language = variant if variant in SPOKEN_LANGUAGES else ("en" if message.get("lang") == "en" else "ja")
        return SpokenMessage(spoken, language) if spoken.strip() else None
    return None


class ReadAloud:
    """The web's read-aloud: request caps, the pace's speech service and the synthesis."""

    def __init__(self, per_minute: int = REQUESTS_PER_MINUTE, at_once: int = MAX_AT_ONCE,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.at_once = at_once
        self._monotonic = monotonic
        self._recent: "collections.OrderedDict[str, Deque[float]]" = collections.OrderedDict()
        self._running = 0
        self._normal: Optional[Tuple[SpeechService, SpeechService]] = None  # (elderly pace, its ふつう sibling)

    def admit(self, conversation_id: str) -> None:
        """Count one request of the conversation; InboundError 429 beyond the per-minute cap."""
        now = self._monotonic()
        recent = self._recent.get(conversation_id) or collections.deque()
        while recent and recent[0] <= now - 60.0:
            recent.popleft()
        if len(recent) >= self.per_minute:
            raise InboundError("too_many_requests", "Too many read-aloud requests. Please wait a minute.", status=429)
        recent.append(now)
        remember(self._recent, conversation_id, recent, MAX_CONVERSATIONS)

    def service(self, speech: SpeechService, pace: str) -> SpeechService:
        if pace == "slow":
            return speech
        if self._normal is None or self._normal[0] is not speech:
            self._normal = (speech, speech.at_rate(min(MAX_RATE, round(speech.openjtalk.rate * NORMAL_RATE_FACTOR, 3))))
        return self._normal[1]

    async def audio(self, speech: SpeechService, message: SpokenMessage, pace: str) -> Audio:
        """The message's audio at `pace` (cached by content); InboundError with a clear code otherwise."""
        if len(message.text) > MAX_SPOKEN_CHARS:
            raise InboundError("too_long_to_read", f"This message is longer than {MAX_SPOKEN_CHARS} characters "
                               "and is not read aloud. Please read it on the screen.", status=422)
        if message.language == "en" and not speaks_english(speech):
            raise no_voice()
        if self._running >= self.at_once:
            raise InboundError("busy", "The voice is busy. Please try again in a moment.", status=503)
        self._running += 1
        try:
            audio = await self.service(speech, pace).synthesize(message.text, message.language)
        except SpeechError:
            raise InboundError("speech_failed", "The message could not be read aloud.", status=503) from None
        finally:
            self._running -= 1
        if message.language == "en" and audio.engine != "gtts":  # Open JTalk cannot read English
            raise no_voice()
        return audio


def speaks_english(speech: SpeechService) -> bool:
    """Only gTTS reads English; it is skipped when it is off or its circuit breaker is open."""
    return speech.mode == "gtts" or (speech.mode == "auto" and not speech.breaker.is_open)


def no_voice() -> InboundError:
    return InboundError("no_voice", "There is no English voice right now. Please read the message on the screen.",
                        status=503)
