"""The FAQ in the admin console: list with freshness, one entry's form, edits and imports.

Edits go through the procedure editor's path (bot/admin/editor.py): the new file text is
planned with ruamel's round-trip mode (comments and layout kept), checked by the catalog
checker on a copy of the whole folder, written atomically under the folder's lock and kept in
the history. An import (bot/catalog/faq_import.py) is planned the same way and may create a
category file, which the procedure editor never does: it is written here under the same lock.
Everything blocks: the API calls it in a worker thread.
"""
from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

from bot.admin.editor import CatalogEditor, EditInvalid, UnknownEntry, _problem_json, _write_atomically
from bot.admin.history import digest
from bot.catalog import faq_import
from bot.catalog.faq import ANSWER_MAX_CHARS, FAQ_FOLDER, QUESTION_MAX_CHARS, VARIANT_MAX_CHARS
from bot.catalog.load import ID_PATTERN
from bot.catalog.model import EXAMPLE_LANGUAGES, Catalog, FaqEntry
from bot.text import LANGUAGES

# An answer not updated for this long is flagged in the list: the city should check it.
STALE_AFTER_DAYS = 365
MAX_VARIANTS = 100
FORM_FIELDS = ("question", "answer", "variants", "section", "url", "updated", "procedure")


class FormError(Exception):
    """A value of the wrong type or shape in the form; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def listing(catalog: Catalog, today: dt.date) -> Dict[str, Any]:
    """Every entry by category (file order), with how old its `updated` date is."""
    categories: List[Dict[str, Any]] = []
    for cid, category in catalog.faq_categories.items():
        entries = []
        for entry in catalog.faq.values():
            if entry.category != cid:
                continue
            age = (today - entry.updated).days
            counter = catalog.counters.get(entry.section)
            entries.append({"id": entry.id, "question": entry.question["ja"], "section": entry.section,
                            "section_name": counter.name.ja if counter else entry.section,
                            "url": entry.url, "updated": entry.updated.isoformat(), "days_old": age,
                            "stale": age > STALE_AFTER_DAYS})
        categories.append({"id": cid, "title": category.title.ja, "entries": entries})
    stale = sum(1 for c in categories for e in c["entries"] if e["stale"])
    return {"today": today.isoformat(), "stale_after_days": STALE_AFTER_DAYS, "stale": stale,
            "count": len(catalog.faq), "categories": categories,
            "sections": {cid: c.name.ja for cid, c in catalog.counters.items()},
            "procedures": {pid: p.title.ja for pid, p in catalog.procedures.items()},
            "limits": {"question": QUESTION_MAX_CHARS, "answer": ANSWER_MAX_CHARS, "variant": VARIANT_MAX_CHARS}}


def entry_path(editor: CatalogEditor, entry_id: str) -> Tuple[str, Any, CommentedMap]:
    """(path under the catalog, round-trip document, the entry's node) of an FAQ entry."""
    if len(entry_id) > 100 or not ID_PATTERN.match(entry_id):
        raise UnknownEntry(entry_id)
    for path in sorted((editor.directory / FAQ_FOLDER).glob("*.yml")):
        relative = f"{FAQ_FOLDER}/{path.name}"
        document = faq_import._yaml().load(editor.read(relative))
        entries = document.get("entries") if isinstance(document, dict) else None
        for node in entries if isinstance(entries, list) else []:
            if isinstance(node, CommentedMap) and node.get("id") == entry_id:
                return relative, document, node
    raise UnknownEntry(entry_id)


def entry_form(editor: CatalogEditor, entry: FaqEntry) -> Dict[str, Any]:
    path, _, _ = entry_path(editor, entry.id)
    return {"id": entry.id, "category": entry.category, "path": path, "version": digest(editor.read(path)),
            "data": {"question": {language: entry.question.get(language, "") for language in LANGUAGES},
                     "answer": {language: entry.answer.get(language, "") for language in LANGUAGES},
                     "variants": {language: list(entry.variants.get(language, ())) for language in EXAMPLE_LANGUAGES},
                     "section": entry.section, "url": entry.url, "updated": entry.updated.isoformat(),
                     "procedure": entry.procedure}}


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise FormError(field, "must be a string")
    return value.strip()


def check_form(data: Any) -> Dict[str, Any]:
    """The form's values with their types checked (the catalog checker judges the content)."""
    if not isinstance(data, dict):
        raise FormError("data", "must be an object with the entry's fields")
    for key in data:
        if key not in FORM_FIELDS:
            raise FormError(str(key), f"unknown field (use {', '.join(FORM_FIELDS)})")
    form: Dict[str, Any] = {}
    for key in ("question", "answer"):
        if key in data:
            texts = data[key]
            if not isinstance(texts, dict):
                raise FormError(key, "must be an object of texts by language (ja, en, easy)")
            for language, text in texts.items():
                if language not in LANGUAGES:
                    raise FormError(f"{key}.{language}", "unknown language (use ja, en, easy)")
                form.setdefault(key, {})[language] = _text(text, f"{key}.{language}")
    if "variants" in data:
        variants = data["variants"]
        if not isinstance(variants, dict):
            raise FormError("variants", "must be an object of lists by language (ja, en)")
        for language, items in variants.items():
            if language not in EXAMPLE_LANGUAGES:
                raise FormError(f"variants.{language}", "unknown language (use ja, en)")
            if not isinstance(items, list) or len(items) > MAX_VARIANTS:
                raise FormError(f"variants.{language}", f"must be a list of at most {MAX_VARIANTS} strings")
            form.setdefault("variants", {})[language] = [
                text for text in (_text(item, f"variants.{language}[{index}]") for index, item in enumerate(items))
                if text]
    for key in ("section", "url", "updated"):
        if key in data:
            form[key] = _text(data[key], key)
    if "procedure" in data:
        value = data["procedure"]
        form["procedure"] = None if value in (None, "") else _text(value, "procedure")
    return form


def _like(old: Any, new: str) -> Any:
    """`new` quoted the way the administrator quoted `old` (a changed line keeps its style)."""
    for kind in (DoubleQuotedScalarString, SingleQuotedScalarString):
        if isinstance(old, kind):
            return kind(new)
    return new


def _write_form(node: CommentedMap, form: Dict[str, Any]) -> None:
    """The form written into an entry's node (in place: comments and order stay)."""
    for key in ("question", "answer"):
        if key not in form:
            continue
        texts = node.get(key)
        if not isinstance(texts, CommentedMap):
            node[key] = texts = CommentedMap()
        for language in LANGUAGES:
            value = form[key].get(language)
            if value is None:
                continue
            if value:
                if texts.get(language) != value:
                    texts[language] = _like(texts.get(language) or texts.get("ja"), value)
            elif language != "ja" and language in texts:
                del texts[language]  # an emptied en/easy text is removed (they are optional)
            elif language == "ja":
                texts[language] = value  # the checker says the Japanese text is required
    if "variants" in form:
        variants = node.get("variants")
        if not isinstance(variants, CommentedMap):
            node["variants"] = variants = CommentedMap()
        for language, items in form["variants"].items():
            current = variants.get(language)
            if list(current or []) == items:
                continue
            if not items:
                if language in variants:
                    del variants[language]
                continue
            if isinstance(current, CommentedSeq) and current:
                # Edited in place: unchanged variants keep their quoting, new ones take the first one's.
                kept = {str(item): item for item in current}
                fresh = [kept.get(text, _like(current[0], text)) for text in items]
                del current[:]
                current.extend(fresh)
            else:
                sequence = CommentedSeq(items)
                sequence.fa.set_flow_style()
                variants[language] = sequence
    for key in ("section", "url"):
        if key in form and node.get(key) != form[key]:
            node[key] = _like(node.get(key), form[key])
    if "updated" in form:
        try:
            updated: Any = dt.date.fromisoformat(form["updated"])
        except ValueError:
            updated = form["updated"]  # the checker names it: "must be a date YYYY-MM-DD"
        if str(node.get("updated")) != str(updated):
            node["updated"] = updated
    if "procedure" in form:
        if form["procedure"] is None:
            if node.get("procedure") is not None:
                node["procedure"] = None
        elif node.get("procedure") != form["procedure"]:
            node["procedure"] = form["procedure"]


def _dump(document: Any) -> str:
    out = io.StringIO()
    faq_import._yaml().dump(document, out)
    return out.getvalue()


def plan_entry(editor: CatalogEditor, entry_id: str, form: Dict[str, Any]) -> Dict[str, str]:
    """The entry's file with the form written into it (in place: comments and order stay)."""
    path, document, node = entry_path(editor, entry_id)
    _write_form(node, form)
    return {path: _dump(document)}


def category_path(editor: CatalogEditor, category: Any) -> str:
    """The file (under the catalog) of an existing FAQ category; FormError naming `category`."""
    if not isinstance(category, str):
        raise FormError("category", "must be a string (the category id, e.g. garbage)")
    if len(category) > 100 or not ID_PATTERN.match(category):
        raise FormError("category", "must be a category id: lowercase letters, digits and _")
    relative = f"{FAQ_FOLDER}/{category}.yml"
    if not (editor.directory / relative).is_file():
        raise FormError("category", f"no such category: {category}")
    return relative


def check_new_id(editor: CatalogEditor, entry_id: Any) -> str:
    """A new entry's id: well formed and not taken (FormError naming `id`)."""
    if not isinstance(entry_id, str):
        raise FormError("id", "must be a string")
    if len(entry_id) > 100 or not ID_PATTERN.match(entry_id):
        raise FormError("id", "use lowercase letters, digits and _ (e.g. garbage_mattress)")
    try:
        entry_path(editor, entry_id)
    except UnknownEntry:
        return entry_id
    raise FormError("id", f"an FAQ entry {entry_id} already exists")


def plan_new_entry(editor: CatalogEditor, category: str, entry_id: str, form: Dict[str, Any]) -> Dict[str, str]:
    """The category's file with a new entry at its end, the form written into it in the
    catalog's own layout (keys in the usual order, texts double-quoted)."""
    path = category_path(editor, category)
    document = faq_import._yaml().load(editor.read(path))
    entries = document.get("entries") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise FormError("category", f"{path} has no list of entries to add to")
    node = CommentedMap()
    node["id"] = entry_id
    node["section"] = ""
    for key in ("question", "answer"):
        node[key] = CommentedMap([("ja", DoubleQuotedScalarString(""))])
    variants = {language: items for language, items in form.get("variants", {}).items() if items}
    if variants:
        node["variants"] = CommentedMap(
            (language, CommentedSeq([DoubleQuotedScalarString(text) for text in items]))
            for language, items in variants.items())
    node["url"] = ""
    node["updated"] = ""
    _write_form(node, {key: value for key, value in form.items() if key != "variants"})
    if isinstance(node.get("updated"), str) and not node["updated"]:
        del node["updated"]  # the checker says it is missing
    entries.append(node)
    text = _dump(document)
    if len(entries) > 1:  # a blank line before it, as between the other entries
        marker = f"\n  - id: {entry_id}\n"
        head, _, tail = text.rpartition(marker)
        text = head.rstrip("\n") + "\n\n" + marker.lstrip("\n") + tail
    return {path: text}


def create_entry(editor: CatalogEditor, author: str, category: Any, entry_id: Any, form: Dict[str, Any]):
    """A new entry written (checked with the whole catalog, versioned): (path, SaveResult)."""
    path = category_path(editor, category)
    entry_id = check_new_id(editor, entry_id)
    return path, editor.save(author, "faq.create", lambda: plan_new_entry(editor, category, entry_id, form), {})


def save_entry(editor: CatalogEditor, author: str, entry_id: str, form: Dict[str, Any], version: str):
    path, _, _ = entry_path(editor, entry_id)
    return path, editor.save(author, "faq.save", lambda: plan_entry(editor, entry_id, form), {path: version})


def plan_import(editor: CatalogEditor, data: bytes, name: str, mapping: Dict[str, str],
                category: Optional[str], section: Optional[str]) -> faq_import.FaqImportPlan:
    return faq_import.plan_faq_import(data, name, editor.directory, mapping, category, section)


def apply_import(editor: CatalogEditor, author: str, data: bytes, name: str, mapping: Dict[str, str],
                 category: Optional[str], section: Optional[str]) -> Tuple[faq_import.FaqImportPlan, List[int]]:
    """Plan again under the folder's lock (what is written is what validates now) and write
    each file atomically, recording every version in the history."""
    with editor.lock:
        plan = faq_import.plan_faq_import(data, name, editor.directory, mapping, category, section)
        if plan.problems:
            raise EditInvalid([_problem_json(problem) for problem in plan.problems])
        history_ids = []
        for path, text in plan.files.items():
            target = Path(editor.directory) / path
            previous = target.read_text(encoding="utf-8") if target.exists() else None
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(target, text)
            history_ids.append(editor.history.record(path, text, author, "faq.import", previous=previous))
        return plan, history_ids
