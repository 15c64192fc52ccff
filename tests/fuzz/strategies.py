"""Hypothesis strategies for hostile input: text floods, JSON of any shape and depth, raw bodies,
and valid individual numbers (check digit) written every way the redaction must catch.

Every individual number a strategy makes is remembered in `SENT_NUMBERS`, so the fuzz module can
look for each of them in the server's files afterwards.
"""
from __future__ import annotations

import json
from typing import Any, Callable, List, Set

from hypothesis import strategies as st

from bot.redaction import my_number_check_digit
from tests.security.test_my_number_probe import ENGLISH, FULL_WIDTH, GROUPINGS, KANA, KANJI, SEPARATORS, grouped

SENT_NUMBERS: Set[str] = set()


def _diverse(n: int) -> bool:
    # Many different digits: such a number cannot turn up by chance in timestamps or ids in the files.
    return len(set(str(n))) >= 7


@st.composite
def individual_numbers(draw: Callable) -> str:
    first_eleven = str(draw(st.integers(10**10, 10**11 - 1).filter(_diverse)))
    number = first_eleven + str(my_number_check_digit(first_eleven))
    SENT_NUMBERS.add(number)
    return number


def _written(number: str, form: int, separator: str, sizes: Any) -> str:
    if form == 0:
        return number
    if form == 1:
        return grouped(number, sizes, separator)
    if form == 2:
        return grouped(number, sizes, separator).translate(FULL_WIDTH)
    if form == 3:
        return "".join(KANJI[int(d)] for d in number)
    if form == 4:
        return "".join(KANA[int(d)] for d in number)
    return " ".join(ENGLISH[int(d)] for d in number)


@st.composite
def my_number_texts(draw: Callable) -> str:
    """A valid individual number in one of the ways a person, an IME or a recognizer writes it, in a sentence."""
    number = draw(individual_numbers())
    written = _written(number, draw(st.integers(0, 5)), draw(st.sampled_from(SEPARATORS)),
                       draw(st.sampled_from(GROUPINGS)))
    before = draw(st.sampled_from(["", "私の番号は", "マイナンバー ", "my number is "]))
    after = draw(st.sampled_from(["", "です", "。住民票をください", " thanks"]))
    return before + written + after


EMOJI = "😀🙏🏻👨‍👩‍👧‍👦🇯🇵🀄️⃣"
ODD = "\u200b\u200e\u202e\ufeff\u0301\ud7ff\ufffd\x7f\x1b\r\n\t\u3000"


def floods() -> st.SearchStrategy[str]:
    """Long runs of emoji, combining marks, direction marks, control characters and kanji."""
    return st.builds(lambda unit, times: unit * times,
                     st.sampled_from(["😀", "👨‍👩‍👧‍👦", "e\u0301", "\u202e", "あ", "髙", "\x1b[31m", "𠮷", "ﾃﾞｼﾞﾀﾙ"]),
                     st.integers(1, 3000))


def hostile_texts() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=80),
        st.text(alphabet=st.sampled_from(EMOJI + ODD + "住民票マイナンバー0123456789"), max_size=300),
        floods(),
        my_number_texts(),
        st.builds(lambda a, n, b: a + n + b, st.text(max_size=20), my_number_texts(), st.text(max_size=20)),
        st.sampled_from(["", " ", "\x00", "人と話したい", "/delete", "/restart", "/request_human", "キャンセル",
                         '/inform{"procedure":"mynumber_pin"}', "{{7*7}}", "<script>alert(1)</script>",
                         "' OR 1=1 --", "%s%s%n", "../../etc/passwd"]),
    )


def json_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
                     st.text(max_size=40), my_number_texts(),
                     individual_numbers().map(int))


def json_values(max_leaves: int = 25) -> st.SearchStrategy[Any]:
    return st.recursive(json_scalars(),
                        lambda inner: st.one_of(st.lists(inner, max_size=6),
                                                st.dictionaries(st.text(max_size=12), inner, max_size=6)),
                        max_leaves=max_leaves)


def anything() -> st.SearchStrategy[Any]:
    """What a field may hold when a client ignores the schema."""
    return st.one_of(hostile_texts(), json_values(8))


def deep_json(depth: int, opener: str = "[") -> bytes:
    closer = "]" if opener == "[" else "}"
    if opener == "{":
        return ('{"a":' * depth + "1" + closer * depth).encode()
    return (opener * depth + closer * depth).encode()


def raw_bodies() -> st.SearchStrategy[bytes]:
    """Bodies that are not what any route wants: binary, broken or deep JSON, other encodings."""
    return st.one_of(
        st.binary(max_size=600),
        st.sampled_from([b"", b"null", b"[]", b"\"text\"", b"42", b"1e999", b"NaN", b"{", b'{"a":', b"\x00" * 64,
                         b'{"message": "\xff\xfe\xfa"}', b'{"message": "\\ud800"}', b"\xef\xbb\xbf{}",
                         '{"message": "住民票"}'.encode("utf-16"), '{"message": "住民票"}'.encode("shift_jis"),
                         b'{"sender": "a", "sender": "b", "message": "x"}', b"[" * 70000]),
        st.builds(deep_json, st.sampled_from([50, 500, 5000, 20000]), st.sampled_from(["[", "{"])),
        json_values().map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8")),
        st.builds(lambda data, cut: data[:cut], json_values().map(lambda v: json.dumps(v).encode()),
                  st.integers(0, 40)),
    )


CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "text/plain", "application/octet-stream",
                 "application/x-www-form-urlencoded", "multipart/form-data; boundary=zz", "application/xml",
                 "application/json; charset=shift_jis", "", "x/y;;;=="]


def content_types() -> st.SearchStrategy[str]:
    return st.sampled_from(CONTENT_TYPES)


def printable_ascii(max_size: int) -> st.SearchStrategy[str]:
    """Header-safe text (httpx refuses non-ASCII header values itself)."""
    return st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=max_size)


def header_values(max_size: int) -> st.SearchStrategy[str]:
    """Printable ASCII without spaces around it (h11, under httpx, refuses to send those itself)."""
    return printable_ascii(max_size).map(str.strip)


def path_segments() -> st.SearchStrategy[str]:
    return st.one_of(st.text(max_size=60), st.sampled_from(["rest:x", "web:" + "0" * 32, "telegram:1", "..", "%00",
                                                            "line:U" + "f" * 32, "voice:CA1", "a" * 5000]),
                     my_number_texts())


def values_or_missing(fields: List[str]) -> st.SearchStrategy[dict]:
    """An object with any subset of `fields`, each holding anything."""
    return st.fixed_dictionaries({}, optional={name: anything() for name in fields})
