"""The form ↔ YAML mapping on every real catalog file (no server): an unchanged form writes the
file back byte for byte; a change touches only its own line and keeps the line's quoting."""
from __future__ import annotations

import json

import pytest

from bot.admin import editor_form
from bot.settings import PROJECT_ROOT

PROCEDURE_FILES = sorted((PROJECT_ROOT / "intents" / "procedures").glob("*.yml"))


@pytest.mark.parametrize("path", PROCEDURE_FILES, ids=lambda p: p.stem)
def test_an_unchanged_form_writes_the_file_back_byte_for_byte(path):
    text = path.read_text(encoding="utf-8")
    doc = editor_form.load_text(text)
    form = json.loads(json.dumps(editor_form.to_form(doc)))  # as it travels to the browser and back
    editor_form.apply_form(doc, form)
    assert editor_form.dump_text(doc) == text


def test_fields_come_from_the_file_so_a_new_localized_field_is_editable():
    text = (PROJECT_ROOT / "intents" / "procedures" / "moving_in.yml").read_text(encoding="utf-8")
    text = text.replace("summary:\n", "notice:\n  ja: 転入届は14日以内です。\n  en: File within 14 days.\n"
                                      "  easy: \"14{日|にち}の あいだに {出|だ}します。\"\nsummary:\n", 1)
    doc = editor_form.load_text(text)
    kinds = {f["key"]: f["kind"] for f in editor_form.describe(doc)}
    assert kinds["notice"] == "localized" and kinds["documents"] == "localized_list" and kinds["examples"] == "examples"
    form = editor_form.to_form(doc)
    form["notice"]["easy"] = "14{日|にち}までに {出|だ}します。"
    editor_form.apply_form(doc, form)
    written = editor_form.dump_text(doc)
    changed = [(a, b) for a, b in zip(text.splitlines(), written.splitlines(), strict=True) if a != b]
    assert changed == [('  easy: "14{日|にち}の あいだに {出|だ}します。"',
                        '  easy: "14{日|にち}までに {出|だ}します。"')]


def test_a_new_way_goes_where_the_catalog_orders_ways_and_an_emptied_one_goes():
    doc = editor_form.load_text((PROJECT_ROOT / "intents" / "procedures" / "moving_in.yml").read_text(encoding="utf-8"))
    form = editor_form.to_form(doc)
    form["how"]["post"] = {"ja": "郵送でも出せます。", "en": "You can also send it by post.",
                           "easy": "ゆうびんでも だせます。"}
    form["how"]["other"] = {"ja": "", "en": "", "easy": ""}
    editor_form.apply_form(doc, form)
    assert list(doc["how"]) == ["counter", "post"]
    assert doc["how"]["post"]["en"] == "You can also send it by post."


def test_examples_are_added_in_their_language_and_removed():
    doc = editor_form.load_text((PROJECT_ROOT / "intents" / "conversation.yml").read_text(encoding="utf-8"))
    node = doc["intents"]["greet"]
    assert editor_form.add_examples(node, ["やっほー", "Howdy"]) == ["ja", "en"]
    assert node["examples"]["ja"][-1] == "やっほー" and node["examples"]["en"][-1] == "Howdy"
    assert '        - "やっほー"' in editor_form.dump_text(doc)  # quoted like the list's other items
    assert editor_form.remove_example(node, "やっほー") == "ja" and "やっほー" not in node["examples"]["ja"]
    assert editor_form.remove_example(node, "not there") is None
