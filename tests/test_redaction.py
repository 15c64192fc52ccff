"""Redaction rules, by example and property-based (hypothesis): what must go, what must stay."""
import json
import re
import unicodedata

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.redaction import (
    MY_NUMBER_MASK,
    PHONE_MASK,
    PIN_MASK,
    Redaction,
    clean_inbound,
    find_phone_number,
    is_valid_my_number,
    mask_phone_numbers,
    my_number_check_digit,
    redact_metadata,
    scrub,
)
from bot.text import normalize_inbound as normalize
from bot.text import without_lone_surrogates

# 123456789018 is the check-digit-valid sample number used in public documentation.
VALID = "123456789018"


def test_check_digit_matches_the_published_algorithm():
    assert my_number_check_digit("12345678901") == 8
    assert my_number_check_digit("00000000000") == 0
    assert is_valid_my_number(VALID)
    assert is_valid_my_number("1234-5678-9018")
    assert not is_valid_my_number("123456789012")
    with pytest.raises(ValueError):
        my_number_check_digit("123")


@pytest.mark.parametrize("text", [
    VALID,
    f"私の番号は{VALID}です",
    "１２３４５６７８９０１８",            # full-width digits
    "1234 5678 9018 を送ります",
    "番号：1234-5678-9018。",
])
def test_valid_individual_numbers_are_replaced(text):
    result = clean_inbound(text)
    assert MY_NUMBER_MASK in result.text
    assert "9018" not in result.text
    assert result.findings == ("my_number",)


def test_invalid_check_digit_without_context_is_kept():
    # 12 digits that fail the check digit are not an individual number (e.g. an order number).
    result = clean_inbound("注文番号 123456789012 について")
    assert result.text == "注文番号 123456789012 について"
    assert result.findings == ()


def test_twelve_digits_named_as_my_number_are_replaced_even_with_a_typo():
    result = clean_inbound("マイナンバーは123456789012です")
    assert result.text == f"マイナンバーは{MY_NUMBER_MASK}です"


def test_longer_digit_runs_are_not_cut_into_a_number():
    assert clean_inbound("01234567890189").findings == ()


@pytest.mark.parametrize("text, expected", [
    ("暗証番号は1234です", f"暗証番号は{PIN_MASK}です"),
    ("暗証番号は１２３４です", f"暗証番号は{PIN_MASK}です"),
    ("PIN 9876 をわすれた", f"PIN {PIN_MASK} をわすれた"),
    ("署名用のパスワードは abc12345 でした", f"署名用のパスワードは {PIN_MASK} でした"),
])
def test_pins_are_replaced_in_a_pin_context(text, expected):
    result = clean_inbound(text)
    assert result.text == expected
    assert "pin" in result.findings


def test_four_digits_without_pin_context_are_kept():
    assert clean_inbound("2024年に引っ越しました").text == "2024年に引っ越しました"


def test_half_width_kana_is_normalized():
    assert clean_inbound("ﾏｲﾅﾝﾊﾞｰｶｰﾄﾞ").text == "マイナンバーカード"


# --- separators, groupings, widths, spoken digits: property-based ------------------------------
# What people and input methods put between digit groups (before NFKC: full-width forms too).
SEPARATORS = ["-", "ー", "‐", "–", "—", "−", "－", "ｰ", " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", "　",
              ".", "．", "・", "･", "/", "／", " - ", " / ", "\u200b", "\u00a0"]
# Sentence fragments around a number: no digits, no "+", no My Number or PIN words (unless noted).
PREFIXES = ["", "番号は", "私の番号は ", "こちらです：", "Here it is: ", "「", "確認してください\n", "(", "→"]
PREFIXES_WITH_CONTEXT = ["マイナンバーは", "個人番号：", "My number is "]
SUFFIXES = ["", "です", "です。よろしくお願いします", " です", "」", "\nお願いします", ". Thanks", ")"]
FILLERS = ["住民票がほしい", "転入届を出したい", "今日は雨です", "Where is the counter?", "引っ越しました"]
SPOKEN = {
    "0": ["ゼロ", "ぜろ", "れい", "まる", "〇", "零", "zero"],
    "1": ["いち", "イチ", "一", "one"],
    "2": ["に", "ニ", "二", "two"],
    "3": ["さん", "サン", "三", "three"],
    "4": ["よん", "し", "ヨン", "四", "four"],
    "5": ["ご", "ゴ", "五", "five"],
    "6": ["ろく", "ロク", "六", "six"],
    "7": ["なな", "しち", "ナナ", "七", "seven"],
    "8": ["はち", "ハチ", "八", "eight"],
    "9": ["きゅう", "く", "キュウ", "九", "nine"],
}
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@st.composite
def valid_numbers(draw) -> str:
    first_eleven = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=11, max_size=11)))
    return first_eleven + str(my_number_check_digit(first_eleven))


@st.composite
def invalid_numbers(draw) -> str:
    number = draw(valid_numbers())
    wrong = draw(st.sampled_from([d for d in "0123456789" if d != number[-1]]))
    return number[:-1] + wrong


@st.composite
def written(draw, digits: str, empty_gaps: bool = True) -> str:
    """`digits` in a random grouping, with random separators and digit widths."""
    cuts = sorted(draw(st.sets(st.integers(1, len(digits) - 1), max_size=len(digits) - 1)))
    groups = [digits[a:b] for a, b in zip([0] + cuts, cuts + [len(digits)], strict=True)]
    gaps = st.sampled_from(SEPARATORS + ([""] if empty_gaps else []))
    text = groups[0]
    for group in groups[1:]:
        text += draw(gaps) + group
    return "".join(c.translate(FULL_WIDTH) if draw(st.booleans()) else c for c in text)


def digits_of(text: str) -> str:
    """Every decimal digit left in `text`, in order (what a reader could still piece together)."""
    return "".join(str(unicodedata.decimal(c)) for c in unicodedata.normalize("NFKC", text) if c.isdecimal())


@settings(max_examples=400, deadline=None)
@given(number=valid_numbers(), data=st.data(), prefix=st.sampled_from(PREFIXES + PREFIXES_WITH_CONTEXT),
       suffix=st.sampled_from(SUFFIXES), filler=st.sampled_from(FILLERS))
def test_a_valid_number_is_redacted_whatever_the_separators(number, data, prefix, suffix, filler):
    message = f"{filler}{prefix}{data.draw(written(number))}{suffix}"
    result = clean_inbound(message)
    assert result.findings == ("my_number",)
    assert MY_NUMBER_MASK in result.text
    assert digits_of(result.text) == ""  # nothing of the number is left, not even a group


# Every separator a keyboard can produce, not a list: any punctuation (P*) or symbol (S*) character
# and any space or line break, alone or in runs. Characters that NFKC turns into letters or digits
# (㏩ → "10日", ™ → "TM") are no separators once normalized, so they are left out.
def _stays_a_separator(char: str) -> bool:
    return not any(c.isalnum() for c in unicodedata.normalize("NFKC", char))


KEYBOARD_SEPARATORS = st.text(
    st.characters(categories=["P", "S", "Zs", "Zl", "Zp"]) | st.sampled_from("\t\n\r\u3000"),
    min_size=1, max_size=3).filter(lambda gap: all(map(_stays_a_separator, gap)))
THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+")  # 1,234,567: an amount (read as one unless named)


@st.composite
def written_with(draw, digits: str, gaps) -> str:
    cuts = sorted(draw(st.sets(st.integers(1, len(digits) - 1), min_size=1, max_size=len(digits) - 1)))
    groups = [digits[a:b] for a, b in zip([0] + cuts, cuts + [len(digits)], strict=True)]
    return groups[0] + "".join(draw(gaps) + group for group in groups[1:])


@settings(max_examples=600, deadline=None)
@given(number=valid_numbers(), data=st.data(), prefix=st.sampled_from(PREFIXES + PREFIXES_WITH_CONTEXT),
       suffix=st.sampled_from(SUFFIXES), filler=st.sampled_from(FILLERS))
def test_a_valid_number_is_redacted_whatever_punctuation_symbols_or_spaces_separate_it(
        number, data, prefix, suffix, filler):
    written_number = data.draw(written_with(number, KEYBOARD_SEPARATORS))
    # The two forms read otherwise unless My Number words are near (bot/redaction.py): an amount,
    # and a phone number with digits beside it (tested on their own below).
    named = prefix in PREFIXES_WITH_CONTEXT
    assume(named or not THOUSANDS.fullmatch(normalize(written_number)))
    assume(named or find_phone_number(normalize(written_number)) is None)
    result = clean_inbound(f"{filler}{prefix}{written_number}{suffix}")
    assert result.findings == ("my_number",)
    assert MY_NUMBER_MASK in result.text
    assert digits_of(result.text) == ""


@pytest.mark.parametrize("text", ["1836_9035_7434", "1836 _ 9035 _ 7434", "1836*9035*7434", "(1836)(9035)(7434)",
                                  "1836,9035,7434", "1836~9035~7434", "1836→9035→7434", "1836|9035|7434",
                                  "１８３６＿９０３５＿７４３４", "1836\u20139035\u20137434", "1836#9035#7434"])
def test_a_number_with_underscores_or_any_other_separator_is_redacted(text):
    result = clean_inbound(f"番号は{text}です")
    assert MY_NUMBER_MASK in result.text and digits_of(result.text) == "" and result.findings == ("my_number",)


def test_an_amount_is_not_an_individual_number_unless_named():
    assert clean_inbound("手数料は183,690,357,434円です").findings == ()  # valid check digit, but money
    assert clean_inbound("マイナンバーは183,690,357,434です").findings == ("my_number",)


def test_a_phone_number_with_a_time_beside_it_stays_whole_unless_named():
    # 12 digits with a valid check digit: 097 5110 9542 + 9 (時以降), joined by 、.
    assert clean_inbound("電話番号は097-5110-9542、9時以降にお願いします").findings == ()
    assert clean_inbound("マイナンバーは097-5110-9542、9").findings == ("my_number",)


def test_a_typed_pin_is_found_with_any_separator_and_each_of_two_listed_pins():
    assert clean_inbound("暗証番号は12_34です").text == f"暗証番号は{PIN_MASK}です"
    assert clean_inbound("暗証番号は1234、5678のどちらか").text == f"暗証番号は{PIN_MASK}、{PIN_MASK}のどちらか"


@settings(max_examples=200, deadline=None)
@given(number=valid_numbers(), data=st.data(),
       before=st.lists(st.text("0123456789", min_size=1, max_size=4), max_size=3),
       after=st.lists(st.text("0123456789", min_size=1, max_size=4), max_size=3))
def test_a_valid_number_is_redacted_among_other_numbers(number, data, before, after):
    # 「1. 1234 5678 9018 3月」: list numbers, dates and counts joined to it by separators.
    joined = st.sampled_from(SEPARATORS)
    parts = [*(g + data.draw(joined) for g in before), data.draw(written(number, empty_gaps=False)),
             *(data.draw(joined) + g for g in after)]
    result = clean_inbound("".join(parts))
    assert "my_number" in result.findings
    assert number not in digits_of(result.text)


@settings(max_examples=200, deadline=None)
@given(number=invalid_numbers(), data=st.data(), prefix=st.sampled_from(PREFIXES_WITH_CONTEXT),
       suffix=st.sampled_from(SUFFIXES))
def test_twelve_digits_named_as_my_number_are_redacted_whatever_the_check_digit(number, data, prefix, suffix):
    result = clean_inbound(prefix + data.draw(written(number)) + suffix)
    assert result.findings == ("my_number",)
    assert digits_of(result.text) == ""


@settings(max_examples=300, deadline=None)
@given(number=valid_numbers(), data=st.data(), prefix=st.sampled_from(["", "番号は", "マイナンバーは、", "It's "]),
       suffix=st.sampled_from(["", "です", "。", " thanks"]))
def test_spoken_digits_are_redacted(number, data, prefix, suffix):
    words = [data.draw(st.sampled_from(SPOKEN[d])) for d in number]
    spoken = words[0]
    for previous, word in zip(words, words[1:], strict=False):
        gaps = ["", " ", "、", "ー"] if not (previous.isascii() or word.isascii()) else [" ", ", ", "-"]
        spoken += data.draw(st.sampled_from(gaps)) + word
    result = clean_inbound(prefix + spoken + suffix)
    assert "my_number" in result.findings
    assert spoken not in result.text and MY_NUMBER_MASK in result.text


@settings(max_examples=300, deadline=None)
@given(number=valid_numbers(), data=st.data(), as_int=st.booleans(),
       path=st.lists(st.sampled_from(["note", "profile", "items", "x"]), min_size=1, max_size=4))
def test_metadata_is_redacted_at_any_depth(number, data, as_int, path):
    if as_int and number[0] != "0":
        value = int(number)
    else:
        value = f"{data.draw(st.sampled_from(PREFIXES))}{data.draw(written(number))}"
    metadata = value
    for key in reversed(path):
        metadata = {key: [metadata, "ok"]} if key == "items" else {key: metadata, "other": "2026-11-25"}
    cleaned, findings = redact_metadata(metadata)
    assert findings == ("my_number",)
    assert number not in digits_of(json.dumps(cleaned, ensure_ascii=False))
    assert json.dumps(cleaned).count("2026-11-25") == sum(key != "items" for key in path)  # the rest is kept


# --- what must stay ----------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(digits=st.text("0123456789", min_size=1, max_size=11), data=st.data(),
       prefix=st.sampled_from(PREFIXES), suffix=st.sampled_from(SUFFIXES))
def test_fewer_than_twelve_digits_stay_whatever_the_separators(digits, data, prefix, suffix):
    message = prefix + data.draw(written(digits)) + suffix if len(digits) > 1 else prefix + digits + suffix
    assert clean_inbound(message) == Redaction(normalize(message), ())


@settings(max_examples=300, deadline=None)
@given(number=invalid_numbers(), data=st.data(), prefix=st.sampled_from(PREFIXES), suffix=st.sampled_from(SUFFIXES))
def test_twelve_digits_with_a_wrong_check_digit_and_no_my_number_words_stay(number, data, prefix, suffix):
    message = prefix + data.draw(written(number)) + suffix
    assert clean_inbound(message) == Redaction(normalize(message), ())


@settings(max_examples=300, deadline=None)
@given(year=st.integers(1900, 2099), month=st.integers(1, 12), day=st.integers(1, 28),
       separator=st.sampled_from(["-", "/", ".", "ー", "・"]), digits=st.sampled_from(["%d", "%02d"]),
       slip=st.integers(0, 999_999), price=st.integers(0, 10**13), phone=st.sampled_from(
           ["0120-000-111", "03-1234-5678", "090-1234-5678", "(03) 1234-5678", "0312345678", "090 1234 5678"]))
def test_dates_slip_numbers_prices_and_phone_numbers_stay(year, month, day, separator, digits, slip, price, phone):
    # Each on its own; digits glued to each other by separators only are read as one run, and
    # 12 of them with a valid check digit are redacted (the law errs on that side).
    date = separator.join([str(year), digits % month, digits % day])
    for message in (f"{date}に引っ越しました", f"{year}年{month}月{day}日", f"整理番号は{slip:06d}です",
                    f"手数料は{price:,}円です", f"¥{price:,}", f"{phone}に電話してください", f"{date}に{phone}から"):
        assert clean_inbound(message) == Redaction(normalize(message), ()), message


# --- PINs --------------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(pin=st.text("0123456789", min_size=4, max_size=4), data=st.data(),
       context=st.sampled_from(["暗証番号は", "PIN ", "パスワードは", "暗証番号：\n"]))
def test_a_four_digit_pin_is_redacted_whatever_the_separators(pin, data, context):
    result = clean_inbound(context + data.draw(written(pin)) + "です")
    assert "pin" in result.findings and PIN_MASK in result.text
    assert digits_of(result.text) == ""


def test_spoken_pin_is_redacted():
    assert clean_inbound("暗証番号はいちにさんしです").text == f"暗証番号は{PIN_MASK}です"


# --- phone numbers (call-back requests, the staff view) ------------------------------------------
@pytest.mark.parametrize("text, digits", [
    ("０９０ー１２３４ー５６７８", "09012345678"),
    ("090 1234 5678", "09012345678"),
    ("090-1234-5678", "09012345678"),
    ("(03) 1234-5678", "0312345678"),
    ("0312345678", "0312345678"),
    ("03(1234)5678 です", "0312345678"),
    ("電話は 080.9876.5432 にお願いします", "08098765432"),
    ("+81 90-1234-5678", "09012345678"),
    ("電話は持ってません", None),
    ("整理番号 123456", None),
    ("2026-11-25", None),
])
def test_phone_numbers_are_understood_in_any_form(text, digits):
    assert find_phone_number(normalize(text)) == digits
    if digits:
        masked = mask_phone_numbers(normalize(text))
        assert digits_of(masked) == "" and PHONE_MASK in masked


def test_phone_masking_keeps_what_is_not_a_phone_number():
    text = "2026-11-25 の 10時、整理番号 123456、ID U0123456789abcdef"
    assert mask_phone_numbers(text) == text


def test_scrub_leaves_text_without_findings_untouched():
    assert scrub("ﾃｽﾄ　2026-11-25") == "ﾃｽﾄ　2026-11-25"
    assert scrub("ﾏｲﾅﾝﾊﾞｰ　１２３４－５６７８－９０１８") == f"マイナンバー {MY_NUMBER_MASK}"


def test_lone_surrogates_become_replacement_characters_everywhere_in_json():
    parsed = json.loads('{"\\udc00": ["\\ud800a", {"k": "\\ud83d\\ude00\\udfff"}], "n": 1}')
    assert without_lone_surrogates(parsed) == {"\ufffd": ["\ufffda", {"k": "😀\ufffd"}], "n": 1}
    assert normalize(" \ud800住民票 ") == "\ufffd住民票"
    normalize("\ud800").encode("utf-8")  # encodable: MeCab and the database accept it
    raw = b'{"a": "\\uD800", "b": "\\ud83d\\ude00"}'
    assert without_lone_surrogates(json.loads(raw), raw) == {"a": "\ufffd", "b": "😀"}
    untouched = {"a": "\ud800"}  # not from this raw text: not walked
    assert without_lone_surrogates(untouched, b'{"a": "x"}') is untouched and untouched["a"] == "\ud800"


def test_deeply_nested_json_is_cleaned_without_recursion():
    depth = 20000  # the server's JSON parser (Sanic's ujson) takes this; Python's recursion does not
    deep: object = "\ud800"
    for _ in range(depth):
        deep = {"a": [deep]} if _ % 2 else {"a": deep}
    inner = without_lone_surrogates(deep)
    for level in reversed(range(depth)):
        inner = inner["a"][0] if level % 2 else inner["a"]
    assert inner == "\ufffd"
