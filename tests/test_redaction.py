import pytest

from bot.redaction import (MY_NUMBER_MASK, PIN_MASK, clean_inbound, is_valid_my_number,
                           my_number_check_digit)

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
