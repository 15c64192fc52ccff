"""The log mask on real logging records: every rendering a log line can take (%-args, JSON with
\\u escapes, repr() with \\n), tracebacks, and handlers made after it was installed."""
from __future__ import annotations

import io
import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import logmask
from bot.redaction import my_number_check_digit
from bot.settings import Settings
from tests.security.scan import readable, spelled_out

TOKEN = "7391845620:AAH0secretPartOfTheTelegramToken_xyz"
LINE_TOKEN = "Zm9vYmFy" * 21 + "="  # the shape of a LINE channel access token (~170 base64 characters)
SEPARATORS = ["", "-", "ー", "−", "–", " ", "  ", "\n", "\t", "　", ".", "・", "/", "／"]


@pytest.fixture
def installed():
    """Install the mask for one test and restore logging as it was."""
    factory, root = logging.getLogRecordFactory(), logging.getLogger()
    handlers_filters = {h: list(h.filters) for h in root.handlers}
    levels = {name: logging.getLogger(name).level for name in logmask.CHATTY_LOGGERS}
    settings_ = Settings(telegram_token=TOKEN, telegram_secret="tg-webhook-secret", line_access_token=LINE_TOKEN,
                         line_channel_secret="5f3c0e8d9a7b41d2a6c4e1f0b9d8c7a6", api_token="api-token-1")
    yield logmask.install(logmask.configured_secrets(settings_))
    logging.setLogRecordFactory(factory)
    logmask._installed = None
    for handler, filters in handlers_filters.items():
        handler.filters = filters
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    logging.captureWarnings(False)


def own_logger(name: str):
    """A logger with its own handler that does not propagate, as Sanic's (made after install)."""
    stream = io.StringIO()
    logger = logging.getLogger(name)
    logger.handlers, logger.propagate = [logging.StreamHandler(stream)], False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_configured_secrets_are_every_token_and_secret_in_the_settings():
    found = logmask.configured_secrets(Settings(telegram_token=TOKEN, telegram_secret="s3cret-x", api_token="abc"))
    assert sorted(found) == sorted([TOKEN, "s3cret-x"])  # "abc" is too short to mask safely


def test_tokens_secrets_and_headers_are_masked_in_every_record(installed):
    logger, stream = own_logger("madoguchi.test.secrets")
    logger.info("HTTP Request: POST %s \"HTTP/1.1 200 OK\"", f"https://api.telegram.org/bot{TOKEN}/sendMessage")
    logger.info("POST https://api.telegram.org/bot123456:OTHERtokenNotConfigured_abcdefghij/getMe")
    logger.debug("headers %r", {"Authorization": f"Bearer {LINE_TOKEN}", "X-Line-Signature": "sig"})
    logger.debug("body %s", LINE_TOKEN)
    logger.info("GET /status?token=api-token-1&x=1 and secret tg-webhook-secret")
    try:
        raise RuntimeError(f"Client error for url 'https://api.telegram.org/bot{TOKEN}/sendMessage'")
    except RuntimeError:
        logger.exception("delivery failed")
    written = stream.getvalue()
    for secret in (TOKEN, TOKEN.split(":")[1], "OTHERtokenNotConfigured", LINE_TOKEN, "api-token-1",
                   "tg-webhook-secret"):
        assert secret not in written
    assert written.count(logmask.SECRET_MASK) >= 6 and "Traceback" in written


def test_chatty_http_loggers_are_quiet(installed):
    assert all(logging.getLogger(name).getEffectiveLevel() >= logging.WARNING for name in logmask.CHATTY_LOGGERS)


@st.composite
def written_digits(draw, digits: str) -> str:
    cuts = sorted(draw(st.sets(st.integers(1, len(digits) - 1), max_size=5)))
    groups = [digits[a:b] for a, b in zip([0] + cuts, cuts + [len(digits)], strict=True)]
    return groups[0] + "".join(draw(st.sampled_from(SEPARATORS[1:])) + g for g in groups[1:])


# One mask for every example: installing it is what the fixture does, not what is varied.
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), eleven=st.text("0123456789", min_size=11, max_size=11),
       phone=st.sampled_from(["09031415926", "0452718281", "0120000111", "08027182818"]),
       rendering=st.sampled_from(["json", "json_unicode", "repr", "plain"]))
def test_personal_numbers_are_masked_however_the_line_renders_them(installed, data, eleven, phone, rendering):
    my_number = eleven + str(my_number_check_digit(eleven))
    text = f"番号は{data.draw(written_digits(my_number))}、電話は{data.draw(written_digits(phone))}です"
    rendered = {"json": json.dumps({"text": text}), "json_unicode": json.dumps({"text": text}, ensure_ascii=False),
                "repr": repr(text), "plain": text}[rendering]
    logger, stream = own_logger("madoguchi.test.numbers")
    logger.debug("user said %s", rendered)
    line = stream.getvalue()
    shown = readable(line.encode())
    assert not spelled_out(my_number).search(shown) and not spelled_out(phone).search(shown)
    assert logmask.MY_NUMBER_MASK in line and logmask.PHONE_MASK in line
