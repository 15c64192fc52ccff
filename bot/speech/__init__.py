"""Speech: answers read aloud, slowly and clearly (gTTS online, Open JTalk offline).

`SpeechService.synthesize(text)` gives an `Audio` file, cached by content hash under
var/speech/; `install_speech(app, settings, catalogs)` makes the service (`Services.speech`), serves
the files at GET /audio/<hash>.<ext> and pre-synthesizes every catalog answer in the
background (at start-up and after a catalog change).
"""
from __future__ import annotations

from bot.speech.reading import for_the_ear
from bot.speech.routes import install_speech
from bot.speech.service import Audio, CircuitBreaker, SpeechError, SpeechService

__all__ = ["Audio", "CircuitBreaker", "SpeechError", "SpeechService", "for_the_ear", "install_speech"]
