"""Finding personal numbers and secrets in what a server wrote, however it was stored.

SQLite pages hold Rasa's JSON (Japanese as \\u escapes, digits as ASCII); the log holds JSON,
repr() and plain text. Files are read as bytes, escapes are decoded and the text is NFKC'd,
then a number is looked for digit by digit with any few non-digits between its digits, so
1234ー5678ー9018, 1234\\n5678 or １２３４ count as much as 123456789018.
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Iterable, List

_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def readable(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return unicodedata.normalize("NFKC", text)


def spelled_out(digits: str) -> re.Pattern:
    """The digits in order, with at most 8 non-digits between two of them."""
    return re.compile(r"\D{0,8}".join(re.escape(d) for d in digits))


def stored_files(var_dir: Path) -> List[Path]:
    """Every database file (with journal and WAL) and log the server wrote."""
    return sorted(p for p in Path(var_dir).rglob("*") if p.is_file() and (".db" in p.name or p.suffix == ".log"))


def hits(paths: Iterable[Path], numbers: Iterable[str] = (), strings: Iterable[str] = ()) -> List[str]:
    """'file: what' for every number or string found in the files (empty when clean)."""
    found = []
    numbers, strings = list(numbers), list(strings)
    for path in paths:
        raw = path.read_bytes()
        text = readable(raw)
        found += [f"{path.name}: {n}" for n in numbers if spelled_out(n).search(text)]
        found += [f"{path.name}: {s!r}" for s in strings
                  if s.encode() in raw or unicodedata.normalize("NFKC", s) in text]
    return found
