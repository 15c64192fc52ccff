"""The command words (`keywords:` in intents/phrases.yml): one table, the same words as before.

The regexes the gate and the privacy commands had in Python until the table replaced them are
kept here as the reference: every message they matched, the table matches, and no other (a
slash command alone may now carry spaces, one closing mark and Telegram's @botname, as /delete
always could).
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.catalog import load_catalog
from bot.catalog.keywords import Keywords, compile_command
from bot.catalog.model import KEYWORD_COMMANDS
from bot.privacy import DELETE, is_delete_request
from bot.settings import PROJECT_ROOT
from bot.text import normalize_inbound
from tests.catalog.editing import edit, problems

SOURCE = PROJECT_ROOT / "intents"
CATALOG = load_catalog(SOURCE)
# bot/handoff/gate.py CANCEL_WORDS and bot/privacy.py DELETE_REQUEST before the table (commit c6ec387).
OLD_CANCEL = re.compile(r"^/cancel_handoff$|キャンセル|やめ(る|ます)|取り消|とりけし|待つのをやめ|\bcancel\b", re.I)
OLD_DELETE = re.compile(r"^\s*(?:/delete(?:@\w+)?|会話を(?:消す|消して|削除する?|削除して)|"
                        r"かいわを(?:けす|けして)|delete (?:my |this )?conversation)\s*[。.!！]?\s*$", re.I)

SAMPLES = [
    "キャンセル", "キャンセルします", "やめる", "やめます", "やめて", "やめた", "予約を取り消したい",
    "とりけし", "待つのをやめます", "cancel", "Cancel please", "CANCEL", "cancellation", "precancel",
    "cancel_it", "/cancel_handoff", "/cancel_handoff2", "x /cancel_handoff", "会話を消す", "会話を消す。",
    " 会話を消して! ", "会話を削除", "会話を削除す", "会話を削除する", "会話を削除して", "会話を削除しない",
    "かいわをけす", "かいわをけして！", "delete conversation", "Delete my conversation.",
    "delete this conversation", "delete your conversation", "/delete", "/delete@madoguchi_bot",
    "/delete now", "/deleted", "please delete conversation", "会話を消すのをやめる", "住民票がほしい", "", " ",
    "会話を消す。。", "キャンセル料はいくら", "delete conversation cancel",
]
FRAGMENTS = ["キャンセル", "やめ", "る", "ます", "取り消", "とりけし", "待つのを", "cancel", "CANCEL", "_", "/",
             "@bot", "/cancel_handoff", "/delete", "会話を", "かいわを", "消す", "消して", "削除", "する", "して",
             "けす", "けして", "delete", "my ", "this ", "conversation", " ", "。", ".", "!", "！", "x", "住民票",
             "\n", "a"]


def old_cancel(text: str) -> bool:
    return bool(OLD_CANCEL.search(text))


def old_delete(text: str) -> bool:
    return bool(OLD_DELETE.match(text))


@pytest.mark.parametrize("text", SAMPLES)
def test_the_table_says_what_the_regexes_said(text):
    assert CATALOG.keywords.says("cancel", text) == old_cancel(text), text
    assert CATALOG.keywords.says("delete", text) == old_delete(text), text
    assert is_delete_request(CATALOG, text) == old_delete(text), text


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=6).map("".join))
def test_the_table_agrees_with_the_regexes_on_any_mix_of_their_words(text):
    if re.fullmatch(r"\s*/cancel_handoff(@\w+)?\s*[。.!！]?\s*", text) and text != "/cancel_handoff":
        return  # the one widening: a decorated slash command (documented above)
    assert CATALOG.keywords.says("cancel", text) == old_cancel(text), repr(text)
    assert CATALOG.keywords.says("delete", text) == old_delete(text), repr(text)


def test_a_slash_command_is_read_like_delete_always_was():
    for text in ("/cancel_handoff", " /cancel_handoff ", "/cancel_handoff@madoguchi_bot", "/cancel_handoff!"):
        assert CATALOG.keywords.says("cancel", text), text
    assert not CATALOG.keywords.says("cancel", "/cancel_handoff please")


def test_the_table_is_read_after_nfkc_as_the_channels_read_the_text():
    keywords = Keywords({"cancel": compile_command(anywhere=["ｷｬﾝｾﾙ"], whole=["ＳＴＯＰ"])})
    assert keywords.says("cancel", normalize_inbound("ｷｬﾝｾﾙ")) and keywords.says("cancel", "キャンセル")
    assert keywords.says("cancel", "stop") and keywords.says("cancel", "Stop!")
    assert not keywords.says("repeat", "キャンセル") and not keywords.says("cancel", None)


def test_every_command_the_code_reads_is_in_the_shipped_table():
    assert set(KEYWORD_COMMANDS) <= set(CATALOG.keywords.patterns)
    assert DELETE in KEYWORD_COMMANDS


# --- a city's own table -----------------------------------------------------------------------
@pytest.fixture
def catalog_dir(tmp_path) -> Path:
    target = tmp_path / "intents"
    shutil.copytree(SOURCE, target, ignore=shutil.ignore_patterns("faq"))  # the FAQ plays no part here
    return target


def test_a_city_adds_a_word_and_every_channel_hears_it(catalog_dir):
    edit(catalog_dir / "phrases.yml", "    whole: [会話を消す,", "    whole: [履歴を消して, 会話を消す,")
    edit(catalog_dir / "phrases.yml", "    anywhere: [キャンセル,", "    anywhere: [もう待たない, キャンセル,")
    catalog = load_catalog(catalog_dir)
    assert is_delete_request(catalog, "履歴を消して。") and not is_delete_request(CATALOG, "履歴を消して。")
    assert catalog.keywords.says("cancel", "それなら、もう待たないです")


def test_without_the_table_the_catalog_does_not_load(catalog_dir):
    path = catalog_dir / "phrases.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[:text.index("\nkeywords:")] + "\n", encoding="utf-8")
    [problem] = problems(catalog_dir)
    assert problem.file == "intents/phrases.yml" and problem.field == "keywords"
    assert "cancel" in problem.message and "delete" in problem.message


def test_a_missing_command_is_named(catalog_dir):
    edit(catalog_dir / "phrases.yml", "  cancel:  #", "  stop_waiting:  #")
    [problem] = problems(catalog_dir)
    assert problem.field == "keywords.cancel" and problem.message.startswith("missing")


@pytest.mark.parametrize("old, new, field, says", [
    ("commands: [/delete]", "commands: [delete_it]", "keywords.delete.commands[0]", "a command is /"),
    ("commands: [/delete]", "comands: [/delete]", "keywords.delete.comands", "unknown kind"),
    ("commands: [/delete]", "commands: [/cancel_handoff]", "keywords.delete.commands[0]",
     "already a word of keywords.cancel"),
    ("commands: [/delete]", "commands: [/delete, '']", "keywords.delete.commands[1]", "non-empty string"),
    ("    anywhere: [キャンセル,", "    anywhere: [かいわをけす, キャンセル,", "keywords.delete.whole[5]",
     "already a word of keywords.cancel"),
])
def test_a_wrong_entry_is_named(catalog_dir, old, new, field, says):
    edit(catalog_dir / "phrases.yml", old, new)
    found = problems(catalog_dir)
    assert [p.field for p in found] == [field], found
    assert says in found[0].message and found[0].line > 1


def test_a_missing_notice_is_named(catalog_dir):
    edit(catalog_dir / "phrases.yml", "  notice_expired_button:", "  notice_expired_buton:")
    [problem] = problems(catalog_dir)
    assert problem.field == "phrases.notice_expired_button" and "channels need this phrase" in problem.message
