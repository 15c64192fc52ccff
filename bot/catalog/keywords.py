"""The command words: what a resident types to cancel a wait or delete a conversation.

One table (`keywords:` in intents/phrases.yml) for every channel, so a city that adds a word
adds it everywhere; it is compiled once per catalog load, not per message. Each command lists

  commands  slash commands and button payloads (`/delete`): the whole message, Telegram's
            `@botname` suffix allowed;
  whole     words that are the whole message (`会話を消す`);
  anywhere  words anywhere in the message (`キャンセル`); a word that begins or ends with a
            Latin letter or digit counts only as a whole word there (`cancel`, not `cancellation`).

A whole message may have spaces around it and one closing 。 . ! or ！. Matching ignores case
and reads the table after NFKC, as the channels read the resident's text
(`normalize_inbound` in bot/text.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, Pattern, Tuple

from bot.text import normalize_inbound

# The kinds of entry a command may have (see the module docstring).
KINDS: Tuple[str, ...] = ("commands", "whole", "anywhere")
COMMAND_PATTERN = re.compile(r"^/[A-Za-z0-9_]+$")
_LATIN_EDGE = re.compile(r"[A-Za-z0-9_]")
# What may surround a whole message: spaces, one closing full stop or exclamation mark.
_WHOLE_START = r"^\s*(?:"
_WHOLE_END = r")\s*[。.!！]?\s*$"


def normalized(word: str) -> str:
    """A table word as the channels see the resident's text (NFKC, trimmed: bot/text.py)."""
    return normalize_inbound(word)


def _anywhere(word: str) -> str:
    """A word anywhere in the message; a Latin edge only at a word boundary."""
    pattern = re.escape(word)
    if _LATIN_EDGE.match(word[0]):
        pattern = r"\b" + pattern
    if _LATIN_EDGE.match(word[-1]):
        pattern += r"\b"
    return pattern


def compile_command(commands: Iterable[str] = (), whole: Iterable[str] = (),
                    anywhere: Iterable[str] = ()) -> Pattern[str]:
    """One pattern for one command's words (the table's three kinds together)."""
    alternatives = []
    whole_forms = [re.escape(normalized(c)) + r"(?:@\w+)?" for c in commands]
    whole_forms += [re.escape(normalized(w)) for w in whole]
    if whole_forms:
        alternatives.append(_WHOLE_START + "|".join(whole_forms) + _WHOLE_END)
    alternatives += [_anywhere(normalized(w)) for w in anywhere]
    if not alternatives:
        return re.compile(r"(?!)")  # matches nothing
    return re.compile("|".join(alternatives), re.IGNORECASE)


@dataclass(frozen=True)
class Keywords:
    """The compiled table: `says(command, text)` for every channel and the gate."""

    patterns: Dict[str, Pattern[str]] = field(default_factory=dict)

    def says(self, command: str, text: object) -> bool:
        """Whether `text` (after the channel's NFKC) is the command `command`; False for an
        unknown command or a text that is not a string."""
        pattern = self.patterns.get(command)
        return isinstance(text, str) and pattern is not None and pattern.search(text) is not None
