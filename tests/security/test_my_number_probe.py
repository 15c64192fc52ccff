"""Finding 3 over real HTTP: individual numbers written every way a person or an IME would,
in messages and in REST metadata, leave no trace in the database files or the server log."""
from __future__ import annotations

import random
import uuid
from typing import Any, Dict, List, Optional, Tuple

import httpx

from bot.catalog import load_catalog
from bot.redaction import my_number_check_digit
from bot.settings import PROJECT_ROOT
from tests.conftest import texts
from tests.security.scan import hits, stored_files

CATALOG = load_catalog(PROJECT_ROOT / "intents")
SEPARATORS = ["ー", "‐", "–", "—", "−", "-", "－", ".", "・", "/", "／", "\n", "\r\n", "\t", "  ", "   ", "　",
              " - ", "\u200b"]
GROUPINGS = [(4, 4, 4), (3, 3, 3, 3), (2, 2, 2, 2, 2, 2), (5, 3, 4), (1, 11), (4, 8), (6, 6), (1,) * 12]
KANA = ["ゼロ", "いち", "に", "さん", "よん", "ご", "ろく", "なな", "はち", "きゅう"]
KANJI = "〇一二三四五六七八九"
ENGLISH = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def valid_number(rng: random.Random) -> str:
    first_eleven = "".join(rng.choice("0123456789") for _ in range(11))
    return first_eleven + str(my_number_check_digit(first_eleven))


def grouped(number: str, sizes: Tuple[int, ...], separator: str) -> str:
    groups, at = [], 0
    for size in sizes:
        groups.append(number[at:at + size])
        at += size
    return separator.join(groups)


def probes(rng: random.Random) -> List[Tuple[str, Optional[Dict[str, Any]], str]]:
    """(message, metadata, the number in it): each a fresh number, so a hit names its variant."""
    made = []
    for separator in SEPARATORS:  # 4-4-4 with every separator, inside a sentence
        number = valid_number(rng)
        made.append((f"私の番号は{grouped(number, (4, 4, 4), separator)}です", None, number))
    for sizes in GROUPINGS:  # every grouping, with a random separator, full-width half the time
        number = valid_number(rng)
        text = grouped(number, sizes, rng.choice(SEPARATORS))
        made.append((text.translate(FULL_WIDTH) if rng.random() < 0.5 else text, None, number))
    number = valid_number(rng)
    made.append(("１．" + grouped(number, (4, 4, 4), "ー").translate(FULL_WIDTH) + "\n２．住民票", None, number))
    for words, gap in ((KANA, ""), (KANJI, ""), (ENGLISH, " ")):  # as a speech recognizer writes them
        number = valid_number(rng)
        made.append(("番号は" + gap.join(words[int(d)] for d in number) + "です", None, number))
    # REST metadata: strings at any depth, numbers, and a key that names the number
    for metadata_of in (lambda n: {"note": grouped(n, (4, 4, 4), "ー")},
                        lambda n: {"profile": {"ids": ["x", grouped(n, (3, 3, 3, 3), "・")]}},
                        lambda n: {"customer": {"id": int("1" + n[1:]) if n[0] == "0" else int(n)}},
                        lambda n: {"my_number": n[:11] + str((int(n[11]) + 1) % 10)}):  # wrong check digit
        number = valid_number(rng)
        metadata = metadata_of(number)
        if "customer" in metadata:
            number = str(metadata["customer"]["id"])
            number = number[:11] + str(my_number_check_digit(number[:11]))
            metadata = {"customer": {"id": int(number)}}
        if "my_number" in metadata:
            number = metadata["my_number"]
        made.append(("こんにちは", metadata, number))
    return made


def test_no_individual_number_survives_anywhere(server):
    rng = random.Random(20261125)
    sent = probes(rng)
    for message, metadata, _number in sent:
        sender = f"rest:probe-{uuid.uuid4().hex[:10]}"
        reply = server.say(sender, message, metadata)
        assert CATALOG.phrases["redacted_my_number"].ja in texts(reply), (message, metadata)
        events = httpx.get(f"{server.base_url}/conversations/{sender}/tracker",
                           params={"token": server.token}, timeout=30).json()["events"]
        user = [e for e in events if e["event"] == "user"][-1]
        assert "redacted" in user["metadata"] and "my_number" in user["metadata"]["redacted"]

    files = stored_files(server.var_dir)
    assert any(p.name == "madoguchi.db" for p in files) and any(p.suffix == ".log" for p in files)
    numbers = [number for _, _, number in sent]
    spoken = [message[3:-2] for message, metadata, _ in sent
              if metadata is None and not any(c.isdigit() for c in message)]
    assert len(spoken) == 3
    assert hits(files, numbers, spoken) == []


def test_probe_scanner_sees_numbers_stored_every_way(tmp_path):
    """The scan above would see a leak in each form it could take in SQLite or the log."""
    number = "123456789018"
    for stored in ['{"text": "1234\\u30fc5678\\u30fc9018"}', "1234\\n5678\\n9018", "１２３４ー５６７８ー９０１８",
                   '{"id": 123456789018}', "12 34 56 78 90 18"]:
        path = tmp_path / "madoguchi.db"
        path.write_bytes(b"\x00SQLite format 3\x00" + stored.encode() + b"\x00")
        assert hits([path], [number]) == [f"madoguchi.db: {number}"], stored


# Separators outside any list a person would think to write down (the rule is "not a letter or digit").
KEYBOARD_SEPARATORS = ["_", "__", " _ ", "*", "~", "|", "#", "+", ",", ":", ";", "→", "｜", "＿", "※", "()", "!?"]


def test_a_number_written_with_underscores_or_any_keyboard_separator_is_not_stored(server):
    rng = random.Random(20261207)
    sent = []
    for separator in KEYBOARD_SEPARATORS:
        number = valid_number(rng)
        sender = f"rest:underscore-{uuid.uuid4().hex[:10]}"
        reply = server.say(sender, f"番号は{grouped(number, (4, 4, 4), separator)}です")
        assert CATALOG.phrases["redacted_my_number"].ja in texts(reply), separator
        sent.append(number)
    assert hits(stored_files(server.var_dir), sent) == []
