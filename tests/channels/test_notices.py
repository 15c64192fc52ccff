"""What a channel says itself comes from the catalog: a city that edits intents/phrases.yml edits it.

The channels' notices (bad input, non-text, failure, a busy server) are the catalog's
`notice_<name>` phrases, said in Japanese and English together because the resident's language
is not known yet. In this process: a city's edited phrase reaches a messaging channel's reply
and a web client's error message, and no sentence for residents is written in the channels'
Python again.
"""
from __future__ import annotations

import ast
import asyncio
import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any, List

import pytest

from bot import senders
from bot.catalog import load_catalog
from bot.catalog.model import NOTICE_PHRASES
from bot.catalog.provider import CatalogProvider
from bot.senders import DELETE_BY_COMMAND, ChannelSpec
from bot.settings import PROJECT_ROOT
from channels import base
from channels.base import answers_inbound_errors, notice_text
from channels.inbound import InboundError
from tests.catalog.editing import edit
from tests.channels.test_channel_list import NAME, CarrierInput

SOURCE = PROJECT_ROOT / "intents"
CITY_JA = "（テスト市）文字でご用件をどうぞ。"
CITY_EN = "(Test city) Please type what you need."
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
# Where residents' sentences used to be written in Python. channels/voice.py is the phone
# issue's (its prompts are catalog phrases already; its words are not yet in the keyword table).
CHECKED = sorted(path for path in (PROJECT_ROOT / "channels").rglob("*.py") if path.name != "voice.py") + [
    PROJECT_ROOT / "bot" / name for name in ("server.py", "privacy.py", "handoff/gate.py", "ratelimit.py")]


@pytest.fixture
def city(tmp_path) -> Path:
    """A copy of the catalog whose city rewrote one notice."""
    target = tmp_path / "intents"
    shutil.copytree(SOURCE, target, ignore=shutil.ignore_patterns("faq"))
    path = target / "phrases.yml"
    edit(path, "    ja: メッセージが空です。ご用件を文字で送ってください。", f"    ja: {CITY_JA}")
    edit(path, "    en: Your message is empty. Please type your question.", f"    en: {CITY_EN}")
    return target


@pytest.fixture
def carrier(monkeypatch) -> None:
    monkeypatch.setattr(senders, "CHANNELS", senders.CHANNELS +
                        (ChannelSpec(NAME, "tests.channels.test_channel_list:CarrierInput", lambda settings: True,
                                     deletion=DELETE_BY_COMMAND),))


def test_every_notice_is_in_the_catalog_in_three_languages():
    catalog = load_catalog(SOURCE)
    for key in NOTICE_PHRASES:
        text = catalog.phrases[key]
        assert text.ja and text.en and text.easy, key
    error = catalog.phrases["notice_error"]
    assert notice_text(catalog, "error") == f"{error.ja}\n{error.en}"
    assert notice_text(catalog, "no_such_notice") == notice_text(catalog, "invalid_message")


def test_a_messaging_channel_says_the_citys_notice(city, carrier):
    channel = CarrierInput(2000)
    channel._services = SimpleNamespace(catalogs=CatalogProvider(city))  # type: ignore[assignment]
    seen: List[Any] = []

    async def rasa(message: Any) -> None:  # an empty message never reaches Rasa
        seen.append(message)

    asyncio.run(channel.forward("u1", "   ", None, rasa))
    asyncio.run(channel.forward("u1", "あ" * 2001, None, rasa))
    assert not seen
    empty, too_long = (sent["text"] for sent in channel.sent)
    assert empty == f"{CITY_JA}\n{CITY_EN}"
    assert "2001" in too_long and "2000" in too_long  # the city's phrase, filled in


def test_a_web_client_reads_the_citys_notice(city, monkeypatch):
    catalogs = CatalogProvider(city)

    async def catalog_of(_request: Any) -> Any:
        return await catalogs.current()

    monkeypatch.setattr(base, "catalog_of", catalog_of)

    @answers_inbound_errors
    async def route(_request: Any) -> Any:
        raise InboundError("empty_message", "The message is empty.")

    reply = asyncio.run(route(SimpleNamespace()))
    assert reply.status == 400
    assert json.loads(reply.body) == {"error": "empty_message", "message": f"{CITY_JA} {CITY_EN}"}


def string_literals(path: Path) -> List[str]:
    """Every string written in the module's code: docstrings and comments left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


@pytest.mark.parametrize("path", CHECKED, ids=lambda path: str(path.relative_to(PROJECT_ROOT)))
def test_no_sentence_for_residents_is_written_in_python(path):
    """A notice in Python would not change when the city edits phrases.yml: put it there instead
    (a `notice_<name>` phrase, NOTICE_PHRASES in bot/catalog/model.py), and its words in `keywords:`."""
    written = [text for text in string_literals(path) if JAPANESE.search(text)]
    assert not written, f"{path.name}: Japanese written in Python: {written}"
