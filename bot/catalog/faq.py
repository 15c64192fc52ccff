"""Load and validate the city's FAQ (`intents/faq/<category>.yml`).

The FAQ is the second source of answers: its texts are said verbatim, so the checker is
strict about what makes an answer wrong or unusable (no Japanese text, a link that is not a
web page, a date that cannot be true, a section that does not exist) and about the sizes a
reply can carry. Problems are recorded like every other catalog problem (file, line, field).
A catalog without `faq/` simply has an empty FAQ.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple
from urllib.parse import urlsplit

from bot.catalog import furigana
from bot.catalog.load import ID_PATTERN, Problem, _parse_date, _Reader
from bot.catalog.model import EXAMPLE_LANGUAGES, FaqCategory, FaqEntry
from bot.clock import real_utcnow
from bot.text import LANGUAGES

FAQ_FOLDER = "faq"
ENTRY_FIELDS = ("id", "section", "question", "answer", "variants", "url", "updated", "procedure")
REQUIRED_ENTRY_FIELDS = ("id", "section", "question", "answer", "url", "updated")
# Size caps (characters, furigana markup not counted): a question is one sentence or two,
# an answer fits a chat bubble and about two minutes read aloud, a variant is a question.
QUESTION_MAX_CHARS = 200
ANSWER_MAX_CHARS = 1200
VARIANT_MAX_CHARS = 200
URL_MAX_CHARS = 2000
# `updated` may not be after today anywhere on Earth (UTC+14): a city's date is never "future".
_LATEST_TIMEZONE = dt.timedelta(hours=14)


@dataclass
class FaqFiles:
    """The FAQ as loaded, plus each file's reader and document for the cross-file checks."""

    entries: Dict[str, FaqEntry]
    categories: Dict[str, FaqCategory]
    documents: Dict[str, Tuple[_Reader, Any]]  # category → (reader, round-trip document)


def today_anywhere() -> dt.date:
    return (real_utcnow() + _LATEST_TIMEZONE).date()


def load_faq(root: Path, problems: List[Problem], counters: Set[str], procedures: Set[str]) -> FaqFiles:
    """Every `faq/*.yml` under `root`; `counters` and `procedures` are the ids an entry may name
    (an empty `counters` means city.yml did not load: sections are not checked then)."""
    files = FaqFiles({}, {}, {})
    folder = Path(root) / FAQ_FOLDER
    if not folder.is_dir():
        return files
    first_seen: Dict[str, Tuple[str, int]] = {}
    for path in sorted(folder.glob("*.yml")):
        reader = _Reader(path, Path(root), problems)
        doc = reader.load()
        if doc is None:
            continue
        category = path.stem
        files.documents[category] = (reader, doc)
        _load_file(reader, doc, category, files, first_seen, counters, procedures)
    return files


def _load_file(reader: _Reader, doc: Any, category: str, files: FaqFiles, first_seen: Dict[str, Tuple[str, int]],
               counters: Set[str], procedures: Set[str]) -> None:
    node = reader.mapping(doc, "(file)", 1)
    if node is None:
        return
    if not ID_PATTERN.match(category):
        reader.error(1, "(file)", f"the file name is the category id: use lowercase letters, digits and _ "
                                  f"(got {category!r})")
    for extra in sorted(set(node) - {"category", "entries"}, key=str):
        reader.error(reader.line_of(node, extra), str(extra), "unknown field (use category, entries)")
    title = reader.localized(node, "category", "category")
    if title is not None:
        files.categories[category] = FaqCategory(category, title)
    if "entries" not in node:
        reader.error(reader.line_of(node), "entries", "missing")
        return
    entries = node["entries"]
    if not isinstance(entries, list):
        reader.error(reader.line_of(node, "entries"), "entries", "must be a list of entries")
        return
    for index, entry_node in enumerate(entries):
        entry = _load_entry(reader, entry_node, f"entries[{index}]", reader.line_of(entries, index),
                            category, counters, procedures)
        if entry is None:
            continue
        line = reader.line_of(entry_node, "id")
        if entry.id in first_seen:
            other_file, other_line = first_seen[entry.id]
            reader.error(line, f"entries[{index}]({entry.id}).id",
                         f"duplicate FAQ id {entry.id!r} (also {other_file}:{other_line}); "
                         "ids are unique over all FAQ files")
            continue
        first_seen[entry.id] = (reader.name, line)
        files.entries[entry.id] = entry


def _load_entry(reader: _Reader, doc: Any, field: str, line: int, category: str,
                counters: Set[str], procedures: Set[str]) -> Optional[FaqEntry]:
    node = reader.mapping(doc, field, line)
    if node is None:
        return None
    ok = True
    entry_id = reader.string(node, "id", f"{field}.id") if "id" in node else None
    if entry_id is not None and not ID_PATTERN.match(entry_id):
        reader.error(reader.line_of(node, "id"), f"{field}.id", "use lowercase letters, digits and _")
        ok = False
    if entry_id is not None:
        field = f"{field}({entry_id})"  # names the entry in every message below
    for extra in sorted(set(node) - set(ENTRY_FIELDS), key=str):
        reader.error(reader.line_of(node, extra), f"{field}.{extra}",
                     f"unknown field (use {', '.join(ENTRY_FIELDS)})")
    for missing in REQUIRED_ENTRY_FIELDS:
        if missing not in node:
            reader.error(reader.line_of(node), f"{field}.{missing}", "missing field")
            ok = False

    section = reader.string(node, "section", f"{field}.section") if "section" in node else None
    if section is not None and counters and section not in counters:
        reader.error(reader.line_of(node, "section"), f"{field}.section",
                     f"unknown section {section!r}: must be a counter id of city.yml "
                     f"(known: {', '.join(sorted(counters))})")
        ok = False

    question = _texts(reader, node, "question", field, QUESTION_MAX_CHARS) if "question" in node else None
    answer = _texts(reader, node, "answer", field, ANSWER_MAX_CHARS) if "answer" in node else None
    variants = _variants(reader, node, field) if "variants" in node else {}

    url = reader.string(node, "url", f"{field}.url") if "url" in node else None
    if url is not None and not _is_web_url(url):
        reader.error(reader.line_of(node, "url"), f"{field}.url",
                     f"must be an http(s) address of the city's page, got {url[:80]!r}")
        ok = False

    updated = None
    if "updated" in node:
        updated = _parse_date(node["updated"])
        if updated is None:
            reader.error(reader.line_of(node, "updated"), f"{field}.updated",
                         f"must be a date YYYY-MM-DD, got {node['updated']!r}")
        elif updated > today_anywhere():
            reader.error(reader.line_of(node, "updated"), f"{field}.updated",
                         f"is in the future ({updated.isoformat()}): the date the city last updated the answer")
            updated = None

    procedure = node.get("procedure")
    if procedure is not None:
        if not isinstance(procedure, str) or procedure not in procedures:
            reader.error(reader.line_of(node, "procedure"), f"{field}.procedure",
                         f"unknown procedure id {procedure!r} (a file name in procedures/, or null)")
            ok = False

    if (not ok or entry_id is None or section is None or question is None or answer is None
            or variants is None or url is None or updated is None):
        return None
    return FaqEntry(id=entry_id, category=category, section=section, question=question, answer=answer,
                    variants=variants, url=url, updated=updated,
                    procedure=str(procedure) if procedure is not None else None)


def _texts(reader: _Reader, parent: dict, key: str, field: str, max_chars: int) -> Optional[Dict[str, str]]:
    """`question`/`answer`: ja required, en and easy optional (easy with furigana)."""
    name = f"{field}.{key}"
    node = reader.mapping(parent[key], name, reader.line_of(parent, key))
    if node is None:
        return None
    for extra in sorted(set(node) - set(LANGUAGES), key=str):
        reader.error(reader.line_of(node, extra), f"{name}.{extra}", "unknown language (use ja, en, easy)")
    if "ja" not in node:
        reader.error(reader.line_of(node), f"{name}.ja", "missing: the Japanese text is required")
    texts: Dict[str, str] = {}
    ok = "ja" in node
    for language in LANGUAGES:
        if language not in node:
            continue
        text = reader.string(node, language, f"{name}.{language}")
        if text is None:
            ok = False
            continue
        line = reader.line_of(node, language)
        if language == "easy":
            reader.check_easy(text, line, f"{name}.easy")
        length = len(furigana.plain(text).strip())
        if length > max_chars:
            reader.error(line, f"{name}.{language}", f"too long: {length} characters (at most {max_chars})")
            ok = False
        texts[language] = text.strip()
    return texts if ok else None


def _variants(reader: _Reader, parent: dict, field: str) -> Optional[Dict[str, Tuple[str, ...]]]:
    name = f"{field}.variants"
    raw = parent["variants"]
    if raw is None:
        return {}
    node = reader.mapping(raw, name, reader.line_of(parent, "variants"))
    if node is None:
        return None
    ok = True
    for extra in sorted(set(node) - set(EXAMPLE_LANGUAGES), key=str):
        reader.error(reader.line_of(node, extra), f"{name}.{extra}", "unknown language (use ja, en)")
        ok = False
    result: Dict[str, Tuple[str, ...]] = {}
    for language in EXAMPLE_LANGUAGES:
        if language not in node:
            continue
        items = node[language]
        if not isinstance(items, list):
            reader.error(reader.line_of(node, language), f"{name}.{language}", "must be a list of strings")
            ok = False
            continue
        texts = []
        for index, item in enumerate(items):
            line = reader.line_of(items, index)
            if not isinstance(item, str) or not item.strip():
                reader.error(line, f"{name}.{language}[{index}]", "must be a non-empty string")
                ok = False
            elif len(item.strip()) > VARIANT_MAX_CHARS:
                reader.error(line, f"{name}.{language}[{index}]",
                             f"too long: {len(item.strip())} characters (at most {VARIANT_MAX_CHARS})")
                ok = False
            else:
                texts.append(item.strip())
        result[language] = tuple(texts)
    return result if ok else None


def _is_web_url(url: str) -> bool:
    if len(url) > URL_MAX_CHARS or any(ch.isspace() for ch in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


@dataclass(frozen=True)
class Phrasing:
    """One way an FAQ entry is asked (its question or a variant), where it is written."""

    reader: _Reader
    entry_id: str
    field: str
    language: str
    text: str
    line: int
    is_variant: bool
    trained: bool  # compiled as a training example (variants; questions of entries not tied to a procedure)


def phrasings(documents: Dict[str, Tuple[_Reader, Any]]) -> Iterator[Phrasing]:
    """Questions and variants (ja, en) of every entry, in file order, as written."""
    for _, (reader, doc) in sorted(documents.items()):
        entries = doc.get("entries") if isinstance(doc, dict) else None
        if not isinstance(entries, list):
            continue
        for index, node in enumerate(entries):
            if not isinstance(node, dict) or not isinstance(node.get("id"), str):
                continue
            entry_id = str(node["id"])
            field = f"entries[{index}]({entry_id})"
            question_trained = node.get("procedure") is None
            question = node.get("question")
            if isinstance(question, dict):
                for language in EXAMPLE_LANGUAGES:
                    if isinstance(question.get(language), str):
                        yield Phrasing(reader, entry_id, f"{field}.question.{language}", language,
                                       str(question[language]), reader.line_of(question, language), False,
                                       question_trained)
            variants = node.get("variants")
            if isinstance(variants, dict):
                for language in EXAMPLE_LANGUAGES:
                    items = variants.get(language)
                    if not isinstance(items, list):
                        continue
                    for position, text in enumerate(items):
                        if isinstance(text, str):
                            yield Phrasing(reader, entry_id, f"{field}.variants.{language}[{position}]", language,
                                           text, reader.line_of(items, position), True, True)
