"""A procedure file as a form: which fields it has, their values as JSON, and edits written back.

The field list comes from the file itself (its keys, in its order) with a kind for each,
so a field the catalog gains later (e.g. a per-procedure `lead`) shows up in the editor
without a change here: a mapping of ja/en/easy texts is a `localized` field whatever its name.
Edits are applied to ruamel's round-trip document in place, so comments, key order and
the quoting style of every string the administrator did not change stay as they were.
"""
from __future__ import annotations

import datetime as dt
import io
from typing import Any, Dict, List, Optional

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import ScalarString

from bot.catalog.model import EXAMPLE_LANGUAGES, WAYS
from bot.text import LANGUAGES

# Fields whose kind is fixed by their name; every other field's kind comes from its shape.
NAMED_KINDS = {
    "id": "id", "section": "section", "owner": "text", "review_by": "date", "human_only": "bool",
    "fee": "fee", "how": "ways", "related": "ids", "examples": "examples",
}
# Optional fields the editor offers even when a file does not have them yet.
OPTIONAL_FIELDS: Dict[str, Any] = {"human_only": False}


def yaml_round_trip() -> YAML:
    """The loader/dumper that writes intents/ back as it was written (checked on every file)."""
    yaml: Any = YAML(typ="rt")  # ruamel's stubs type these attributes as None
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long sentence onto two lines
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.allow_unicode = True
    return yaml


def load_text(text: str) -> Any:
    return yaml_round_trip().load(text)


def dump_text(doc: Any) -> str:
    out = io.StringIO()
    yaml_round_trip().dump(doc, out)
    return out.getvalue()


def kind_of(key: str, value: Any) -> str:
    if key in NAMED_KINDS:
        return NAMED_KINDS[key]
    if isinstance(value, dict) and value and set(value) <= set(LANGUAGES):
        if all(isinstance(v, list) for v in value.values()):
            return "localized_list"
        return "localized"
    if isinstance(value, str):
        return "text"
    return "raw"  # shown read-only, kept as it is


def describe(doc: Dict[str, Any]) -> List[Dict[str, str]]:
    """[{key, kind}] for every field of the file, in file order, then optional ones it lacks."""
    fields = [{"key": str(key), "kind": kind_of(str(key), value)} for key, value in doc.items()]
    for key in OPTIONAL_FIELDS:
        if key not in doc:
            fields.append({"key": key, "kind": NAMED_KINDS[key]})
    return fields


def to_form(doc: Dict[str, Any]) -> Dict[str, Any]:
    """The file's values as plain JSON (dates as YYYY-MM-DD)."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, (dt.date, dt.datetime)):
            return value.isoformat()[:10]
        if isinstance(value, str):
            return str(value)
        return value

    form = plain(doc)
    for key, default in OPTIONAL_FIELDS.items():
        form.setdefault(key, default)
    return form


def _styled(old: Any, new: str) -> Any:
    """`new` in the quoting style of `old` (a double-quoted text stays double-quoted)."""
    if isinstance(old, ScalarString):
        return type(old)(new)
    return new


def _set_text(node: Any, key: Any, value: Any) -> None:
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    text = text.strip()
    if key in node and node[key] == text:
        return
    node[key] = _styled(node.get(key), text)


def _set_list(node: Any, key: Any, values: Any) -> None:
    if not isinstance(values, list):
        return  # not a list: a malformed request changes nothing (an empty list is how to clear one)
    items = [item for item in (str(v).strip() for v in values if v is not None) if item]
    seq = node.get(key)
    if not isinstance(seq, CommentedSeq):
        node[key] = CommentedSeq(items)
        return
    template = seq[0] if len(seq) else None
    for index, item in enumerate(items):
        if index < len(seq):
            if seq[index] != item:
                seq[index] = _styled(seq[index], item)
        else:
            seq.append(_styled(template, item))
    del seq[len(items):]


def _set_localized(node: Any, key: str, value: Any, list_valued: bool = False) -> None:
    if not isinstance(value, dict):
        return
    target = node.get(key)
    if not isinstance(target, CommentedMap):
        target = node[key] = CommentedMap()
    for language in LANGUAGES:
        if language in value:
            (_set_list if list_valued else _set_text)(target, language, value[language])


def _date_or_text(value: Any) -> Any:
    text = str(value or "").strip()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return text  # the checker reports it next to the field


def _yen(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        return str(value)  # the checker reports it next to the field


def apply_form(doc: CommentedMap, form: Dict[str, Any]) -> None:
    """Write the form's values into `doc` in place (the id never changes)."""
    for field in describe(doc):
        key, kind = field["key"], field["kind"]
        if key not in form or kind in ("id", "raw"):
            continue
        value = form[key]
        if kind in ("text", "section"):
            _set_text(doc, key, value)
        elif kind == "date":
            doc[key] = _date_or_text(value)
        elif kind == "bool":
            if key in doc or value:
                doc[key] = bool(value)
        elif kind == "localized":
            _set_localized(doc, key, value)
        elif kind == "localized_list":
            _set_localized(doc, key, value, list_valued=True)
        elif kind == "fee" and isinstance(value, dict):
            fee = doc.get(key)
            if not isinstance(fee, CommentedMap):
                fee = doc[key] = CommentedMap()
            fee["yen"] = _yen(value.get("yen"))
            _set_localized({key: fee}, key, {k: v for k, v in value.items() if k in LANGUAGES})
        elif kind == "ways" and isinstance(value, dict):
            _set_ways(doc, key, value)
        elif kind == "ids":
            _set_list(doc, key, value)
            _flow_style_if_short(doc[key])
        elif kind == "examples" and isinstance(value, dict):
            examples = doc.get(key)
            if not isinstance(examples, CommentedMap):
                examples = doc[key] = CommentedMap()
            for language in EXAMPLE_LANGUAGES:
                if language in value:
                    _set_list(examples, language, value[language])


def _set_ways(doc: CommentedMap, key: str, value: Dict[str, Any]) -> None:
    how = doc.get(key)
    if not isinstance(how, CommentedMap):
        how = doc[key] = CommentedMap()
    for way in WAYS:
        texts = value.get(way)
        filled = isinstance(texts, dict) and any(str(texts.get(lang) or "").strip() for lang in LANGUAGES)
        if filled:
            if way not in how:  # a new way goes where WAYS puts it
                position = sum(1 for w in WAYS[:WAYS.index(way)] if w in how)
                how.insert(position, way, CommentedMap())
            _set_localized(how, way, texts)
        elif way in how:
            del how[way]


def _flow_style_if_short(seq: Any) -> None:
    """A new related-list is written on one line, like the hand-written ones."""
    if isinstance(seq, CommentedSeq) and seq.fa.flow_style() is None:
        seq.fa.set_flow_style()


def add_examples(node: CommentedMap, texts: List[str]) -> List[str]:
    """Append `texts` to node["examples"] under their language; returns the languages used."""
    examples = node.get("examples")
    if not isinstance(examples, CommentedMap):
        examples = node["examples"] = CommentedMap()
    used = []
    for text in texts:
        language = example_language(text)
        seq = examples.get(language)
        if not isinstance(seq, CommentedSeq):
            seq = examples[language] = CommentedSeq()
        seq.append(_styled(seq[0] if len(seq) else None, text.strip()))
        used.append(language)
    return used


def remove_example(node: CommentedMap, text: str) -> Optional[str]:
    """Remove one example (exact text) from node["examples"]; its language, or None if absent."""
    examples = node.get("examples")
    if not isinstance(examples, dict):
        return None
    for language, seq in examples.items():
        if isinstance(seq, list) and text in seq:
            del seq[seq.index(text)]
            return str(language)
    return None


def example_language(text: str) -> str:
    """`ja` for a sentence with any kana or kanji, else `en`."""
    return "ja" if any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" or "\uff66" <= ch <= "\uff9f"
                       for ch in text) else "en"
