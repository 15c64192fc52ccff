"""Import a city's FAQ export (CSV or JSON) into `intents/faq/`, after showing what changes.

Japanese municipalities publish their よくある質問 as CSV (UTF-8, with or without a BOM,
or CP932/Shift_JIS; Excel's UTF-16 「Unicode テキスト」 too) or JSON, each with its own
column names: a mapping names the column of each field (`question=質問,answer=回答,...`);
without one, the common Japanese column names below are recognised. The Digital Agency's
自治体標準オープンデータセット could not be consulted when this was written (its FAQ
item definitions were not reachable from here), so the defaults are our own documented
list, not a claim about that standard; a city whose columns differ passes a mapping.

Nothing is written until the merged catalog passes the catalog checker (on a copy). The
YAML is written with ruamel's round-trip mode: comments, order and quoting of the files stay
as the administrator wrote them, and importing the same file again changes nothing.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from bot.catalog.faq import FAQ_FOLDER
from bot.catalog.load import ID_PATTERN, CatalogError, Problem, load_catalog
from bot.catalog.model import Catalog
from bot.clock import real_utcnow

FIELDS = ("id", "question", "answer", "category", "section", "url", "updated", "variants",
          "question_en", "answer_en")
REQUIRED_FIELDS = ("question", "answer")
# Column names recognised without a mapping (first match wins, compared after NFKC and trimming).
DEFAULT_COLUMNS: Dict[str, Tuple[str, ...]] = {
    "id": ("ID", "id", "FAQ ID", "FAQID", "番号", "No", "No."),
    "question": ("質問", "質問内容", "質問文", "問", "Q", "question"),
    "answer": ("回答", "回答内容", "回答文", "答", "A", "answer"),
    "category": ("カテゴリ", "カテゴリー", "分類", "大分類", "category"),
    "section": ("担当課", "担当部署", "所管課", "担当", "問い合わせ先", "section"),
    "url": ("URL", "url", "参照URL", "ページURL", "リンク"),
    "updated": ("更新日", "最終更新日", "更新年月日", "公開日", "updated"),
    "variants": ("言い換え", "類似質問", "キーワード", "variants"),
    "question_en": ("質問（英語）", "question_en"),
    "answer_en": ("回答（英語）", "answer_en"),
}
# A cell a spreadsheet would run as a formula (OWASP "CSV injection"); refused, never stored.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
_ERAS = {"令和": 2018, "平成": 1988, "昭和": 1925}
_VARIANT_SPLIT = re.compile(r"[\n|｜／;；]+")


class FaqImportError(Exception):
    """The file cannot be imported (not CSV/JSON, a missing column, an empty question, a
    formula cell, ...): the message names the row and the column. Nothing is written."""


@dataclass
class Row:
    where: str  # "row 3" (CSV, as a spreadsheet numbers it) or "item [2]" (JSON)
    cells: Dict[str, str]  # column → text


@dataclass
class EntryChange:
    entry_id: str
    category: str
    kind: str  # new | changed | unchanged
    fields: List[Tuple[str, Any, Any]] = field(default_factory=list)  # (field, here, theirs)
    incoming: Dict[str, Any] = field(default_factory=dict)
    where: str = ""


@dataclass
class FaqImportPlan:
    source: str
    changes: List[EntryChange]
    new_categories: Dict[str, str]  # id → title written (from the category cell)
    files: Dict[str, str]  # path under the catalog folder → new text (only files that change)
    problems: List[Problem]  # the merged catalog's problems (file, line, field, message)

    def counts(self) -> Dict[str, int]:
        result = {"new": 0, "changed": 0, "unchanged": 0}
        for change in self.changes:
            result[change.kind] += 1
        return result

    def describe(self) -> List[str]:
        lines = [f"FAQ import from {self.source}"]
        by_category: Dict[str, List[EntryChange]] = {}
        for change in self.changes:
            by_category.setdefault(change.category, []).append(change)
        for category, changes in sorted(by_category.items()):
            counts = {kind: sum(1 for c in changes if c.kind == kind) for kind in ("new", "changed", "unchanged")}
            note = " (new category file)" if category in self.new_categories else ""
            lines.append(f"{FAQ_FOLDER}/{category}.yml{note}: {counts['new']} new, {counts['changed']} changed, "
                         f"{counts['unchanged']} unchanged")
            for change in changes:
                if change.kind == "new":
                    lines.append(f"  + {change.entry_id}: {change.incoming['question']['ja']}")
                elif change.kind == "changed":
                    lines.append(f"  ~ {change.entry_id}:")
                    for path, here, theirs in change.fields:
                        lines.append(f"      {path}: {_short(here)} → {_short(theirs)}")
        counts = self.counts()
        lines.append(f"{counts['new']} new, {counts['changed']} changed, {counts['unchanged']} unchanged")
        if self.problems:
            lines.append(f"{len(self.problems)} problem(s) in the catalog after the import:")
            lines.extend(f"  {problem}" for problem in self.problems)
        return lines


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…'"


# --- reading the file ------------------------------------------------------------------

def parse_mapping(text: Optional[str]) -> Dict[str, str]:
    """`question=質問,answer=回答` → {"question": "質問", "answer": "回答"}."""
    mapping: Dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise FaqImportError(f"mapping {part.strip()!r}: write FIELD=COLUMN (fields: {', '.join(FIELDS)})")
        key, column = (piece.strip() for piece in part.split("=", 1))
        if key not in FIELDS:
            raise FaqImportError(f"mapping: unknown field {key!r} (fields: {', '.join(FIELDS)})")
        if not column:
            raise FaqImportError(f"mapping: field {key!r} names no column")
        mapping[key] = column
    return mapping


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's 「Unicode テキスト」: UTF-16, tab-separated
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise FaqImportError(f"not valid UTF-16 text at offset {error.start}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp932")  # Shift_JIS as Windows writes it (a superset of Shift_JIS)
    except UnicodeDecodeError as error:
        raise FaqImportError(f"not text in UTF-8 or Shift_JIS (CP932): undecodable byte at offset {error.start}") \
            from None


def read_rows(data: bytes, name: str) -> Tuple[List[str], List[Row]]:
    """(columns, rows) of a CSV or JSON export."""
    if len(data) > MAX_BYTES:
        raise FaqImportError(f"file too large: {len(data)} bytes (at most {MAX_BYTES})")
    if not data.strip():
        raise FaqImportError("the file is empty")
    text = _decode(data) if data.startswith((b"\xff\xfe", b"\xfe\xff")) else None
    if text is None:
        if b"\x00" in data[:4096]:
            raise FaqImportError("not a CSV or JSON file (binary content)")
        text = _decode(data)
    stripped = text.lstrip("\ufeff \t\r\n")
    if name.lower().endswith(".json") or stripped[:1] in ("[", "{"):
        return _json_rows(stripped)
    return _csv_rows(text)


def _json_rows(text: str) -> Tuple[List[str], List[Row]]:
    try:
        document = json.loads(text)
    except ValueError as error:
        raise FaqImportError(f"not valid JSON: {error}") from None
    items = document.get("faq") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise FaqImportError('JSON: expected a list of objects, or {"faq": [...]}')
    if len(items) > MAX_ROWS:
        raise FaqImportError(f"too many entries: {len(items)} (at most {MAX_ROWS})")
    columns: List[str] = []
    rows = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise FaqImportError(f"item [{index}]: must be an object, got {type(item).__name__}")
        cells = {}
        for key, value in item.items():
            if key not in columns:
                columns.append(str(key))
            if value is None:
                cells[str(key)] = ""
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                cells[str(key)] = "\n".join(value)
            elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
                cells[str(key)] = str(value)
            else:
                raise FaqImportError(f"item [{index}], column {key!r}: must be text, got {type(value).__name__}")
        rows.append(Row(f"item [{index}]", cells))
    return columns, rows


def _csv_rows(text: str) -> Tuple[List[str], List[Row]]:
    header = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in header and "," not in header else ","  # TSV exports exist too
    try:
        table = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as error:
        raise FaqImportError(f"not valid CSV: {error}") from None
    if not table or not any(cell.strip() for cell in table[0]):
        raise FaqImportError("CSV: the first row must name the columns")
    columns = [cell.strip() for cell in table[0]]
    if len(columns) < 2:
        raise FaqImportError("not a CSV file with columns (one column found: is it CSV?)")
    repeated = sorted({c for c in columns if c and columns.count(c) > 1})
    if repeated:
        raise FaqImportError(f"CSV: column names used twice: {', '.join(repeated)}")
    if len(table) - 1 > MAX_ROWS:
        raise FaqImportError(f"too many rows: {len(table) - 1} (at most {MAX_ROWS})")
    rows = []
    for number, values in enumerate(table[1:], start=2):
        if not any(value.strip() for value in values):
            continue  # a blank line
        if len(values) > len(columns) and any(v.strip() for v in values[len(columns):]):
            raise FaqImportError(f"row {number}: {len(values)} cells for {len(columns)} columns")
        rows.append(Row(f"row {number}", {column: (values[i] if i < len(values) else "")
                                          for i, column in enumerate(columns) if column}))
    return columns, rows


def resolve_columns(columns: Sequence[str], mapping: Dict[str, str]) -> Dict[str, str]:
    """field → column of the file, from the mapping or the default names."""
    def key(text: str) -> str:
        return unicodedata.normalize("NFKC", text).strip().lower()

    by_key = {key(column): column for column in columns}
    resolved: Dict[str, str] = {}
    for name, column in mapping.items():
        if key(column) not in by_key:
            raise FaqImportError(f"column {column!r} (mapped to {name}) is not in the file; "
                                 f"its columns: {', '.join(columns)}")
        resolved[name] = by_key[key(column)]
    for name, names in DEFAULT_COLUMNS.items():
        if name in resolved:
            continue
        for candidate in names:
            if key(candidate) in by_key:
                resolved[name] = by_key[key(candidate)]
                break
    for name in REQUIRED_FIELDS:
        if name not in resolved:
            raise FaqImportError(f"no {name} column: map it with --mapping {name}=COLUMN "
                                 f"(the file's columns: {', '.join(columns)})")
    return resolved


def parse_date(text: str) -> Optional[dt.date]:
    """YYYY-MM-DD, YYYY/MM/DD, YYYY年M月D日, 令和7年4月1日 (元年 too), with full-width digits."""
    value = unicodedata.normalize("NFKC", text).strip().replace(" ", "")
    match = re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ].*)?", value) or \
        re.fullmatch(r"(\d{4})年(\d{1,2})月(\d{1,2})日", value)
    year: Optional[int] = None
    if match:
        year, month, day = (int(part) for part in match.groups())
    else:
        era = re.fullmatch(r"(令和|平成|昭和)(元|\d{1,2})年(\d{1,2})月(\d{1,2})日", value)
        if not era:
            return None
        year = _ERAS[era.group(1)] + (1 if era.group(2) == "元" else int(era.group(2)))
        month, day = int(era.group(3)), int(era.group(4))
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


# --- matching rows to the catalog ------------------------------------------------------

def _norm(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def _match_section(catalog: Catalog, text: str) -> Optional[str]:
    """A counter id from the 担当課 cell: the id itself, or the counter's name (ja/en), exact or
    as the end of a longer name (「環境部環境課」 → 環境課)."""
    wanted = _norm(text)
    if text.strip() in catalog.counters:
        return text.strip()
    names = {cid: {_norm(c.name.ja), _norm(c.name.en)} for cid, c in catalog.counters.items()}
    exact = [cid for cid, forms in names.items() if wanted in forms]
    if len(exact) == 1:
        return exact[0]
    partial = [cid for cid, forms in names.items()
               if any(form and (wanted.endswith(form) or form.startswith(wanted)) for form in forms)]
    return partial[0] if len(partial) == 1 else None


def _match_category(catalog: Catalog, text: str) -> Optional[str]:
    if text.strip() in catalog.faq_categories:
        return text.strip()
    wanted = _norm(text)
    for cid, category in catalog.faq_categories.items():
        if wanted in (_norm(category.title.ja), _norm(category.title.en)):
            return cid
    return None


def _check_formula(row: Row, column: str, value: str) -> None:
    if value.startswith(FORMULA_STARTS):
        shown = {"\t": "a tab", "\r": "a carriage return"}.get(value[0], repr(value[0]))
        raise FaqImportError(f"{row.where}, column {column!r}: starts with {shown}, which a spreadsheet runs as "
                             f"a formula; refused (remove it or put the text in quotes with a leading space)")


def _cell(row: Row, columns: Dict[str, str], name: str) -> str:
    column = columns.get(name)
    if column is None:
        return ""
    value = row.cells.get(column, "")
    _check_formula(row, column, value)
    return value.strip()


def _entry_from_row(row: Row, columns: Dict[str, str], catalog: Catalog, category: str, default_section: Optional[str],
                    existing: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The entry as YAML data (plain), from one row; the existing entry's other fields are kept."""
    def required(name: str) -> str:
        value = _cell(row, columns, name)
        if not value:
            raise FaqImportError(f"{row.where}, column {columns[name]!r}: the {name} is empty")
        return value

    entry: Dict[str, Any] = {"question": {"ja": required("question")}, "answer": {"ja": required("answer")}}
    for language_field, target in (("question_en", "question"), ("answer_en", "answer")):
        value = _cell(row, columns, language_field)
        if value:
            entry[target]["en"] = value
    section_text = _cell(row, columns, "section")
    if section_text:
        section = _match_section(catalog, section_text)
        if section is None:
            raise FaqImportError(f"{row.where}, column {columns['section']!r}: no section named {section_text!r} "
                                 f"in city.yml (give a counter id or a counter's name; known: "
                                 f"{', '.join(sorted(catalog.counters))})")
        entry["section"] = section
    elif existing is None or "section" not in existing:
        if default_section is None:
            where = f"column {columns['section']!r}" if "section" in columns else "no section column"
            raise FaqImportError(f"{row.where}, {where}: the section (担当課) is missing; "
                                 f"map a column or pass --section ID")
        entry["section"] = default_section
    url = _cell(row, columns, "url")
    if url:
        entry["url"] = url
    updated_text = _cell(row, columns, "updated")
    if updated_text:
        updated = parse_date(updated_text)
        if updated is None:
            raise FaqImportError(f"{row.where}, column {columns['updated']!r}: {updated_text!r} is not a date "
                                 f"(YYYY-MM-DD, YYYY/MM/DD, 2025年4月1日 or 令和7年4月1日)")
        entry["updated"] = updated.isoformat()
    variants = [v.strip() for v in _VARIANT_SPLIT.split(_cell(row, columns, "variants")) if v.strip()]
    if variants:
        entry["variants"] = {"ja": variants}
    return entry


def _entry_id(row: Row, columns: Dict[str, str], category: str, taken: set) -> str:
    raw = _cell(row, columns, "id")
    if raw:
        candidate = unicodedata.normalize("NFKC", raw).strip().lower().replace("-", "_").replace(" ", "_")
        if not ID_PATTERN.match(candidate):
            candidate = f"{category}_{candidate}"
        if not ID_PATTERN.match(candidate) or len(candidate) > 100:
            raise FaqImportError(f"{row.where}, column {columns['id']!r}: {raw!r} cannot be an entry id "
                                 f"(letters, digits, _ and -)")
        return candidate
    url = _cell(row, columns, "url")
    stem = Path(url.split("?", 1)[0].split("#", 1)[0].rstrip("/")).stem.lower().replace("-", "_") if url else ""
    if stem and ID_PATTERN.match(stem) and stem not in taken and stem not in ("index", "faq"):
        return stem
    number = 1
    while f"{category}_{number:03d}" in taken:
        number += 1
    return f"{category}_{number:03d}"


# --- planning --------------------------------------------------------------------------

def _yaml() -> YAML:
    """Round-trip YAML in the catalog's own layout (a file loaded and dumped is unchanged)."""
    yaml = YAML()
    yaml.preserve_quotes = True  # type: ignore[assignment]
    yaml.width = 4096  # type: ignore[assignment]
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    return value if value is None or isinstance(value, (bool, int, float)) else str(value)


def _differences(here: Dict[str, Any], theirs: Dict[str, Any]) -> List[Tuple[str, Any, Any]]:
    """Fields `theirs` changes; variants are merged (theirs added, ours kept)."""
    out: List[Tuple[str, Any, Any]] = []
    for key, value in theirs.items():
        if key == "variants":
            ours = (here.get("variants") or {}).get("ja") or []
            for variant in value.get("ja", []):
                if _norm(variant) not in {_norm(v) for v in ours}:
                    out.append(("variants.ja", None, variant))
        elif isinstance(value, dict):
            for sub, text in value.items():
                current = (here.get(key) or {}).get(sub)
                if current != text:
                    out.append((f"{key}.{sub}", current, text))
        elif here.get(key) != value:
            out.append((key, here.get(key), value))
    return out


def plan_faq_import(data: bytes, name: str, catalog_dir: Path, mapping: Optional[Dict[str, str]] = None,
                    category: Optional[str] = None, section: Optional[str] = None) -> FaqImportPlan:
    """What importing `data` (a CSV or JSON export named `name`) would change in `catalog_dir`.

    `category`: the category id for rows without a category cell (and for every row when the
    file has no category column); `section`: the counter id for rows without a 担当課.
    Raises FaqImportError for input that cannot be read; the merged catalog's own problems
    (a bad URL, a future date, ...) are listed in the plan, which then cannot be applied."""
    catalog_dir = Path(catalog_dir)
    try:
        catalog = load_catalog(catalog_dir)
    except CatalogError as error:
        raise FaqImportError("the catalog does not validate before the import; fix it first:\n"
                             + "\n".join(f"  {p}" for p in error.problems[:20])) from None
    if category is not None and not ID_PATTERN.match(category):
        raise FaqImportError(f"--category {category!r}: a category id is lowercase letters, digits and _")
    if section is not None and section not in catalog.counters:
        raise FaqImportError(f"--section {section!r}: not a counter id of city.yml "
                             f"(known: {', '.join(sorted(catalog.counters))})")
    columns, rows = read_rows(data, name)
    fields = resolve_columns(columns, dict(mapping or {}))
    if not rows:
        raise FaqImportError("the file has no entries")

    yaml = _yaml()
    documents: Dict[str, Any] = {}  # category → round-trip document
    originals: Dict[str, str] = {}
    for path in sorted((catalog_dir / FAQ_FOLDER).glob("*.yml")):
        originals[path.stem] = path.read_text(encoding="utf-8")
        documents[path.stem] = yaml.load(originals[path.stem])
    by_id: Dict[str, Tuple[str, Any]] = {}  # entry id → (category, round-trip node)
    for cid, document in documents.items():
        for node in (document or {}).get("entries") or []:
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                by_id[str(node["id"])] = (cid, node)
    by_question = {_norm(entry.question["ja"]): entry.id for entry in catalog.faq.values()}
    by_url: Dict[str, List[str]] = {}
    for entry in catalog.faq.values():
        by_url.setdefault(entry.url, []).append(entry.id)

    changes: List[EntryChange] = []
    new_categories: Dict[str, str] = {}
    seen_rows: Dict[str, str] = {}
    taken = set(by_id)
    for row in rows:
        category_text = _cell(row, fields, "category")
        if category_text:
            target = _match_category(catalog, category_text) or (
                category_text if ID_PATTERN.match(category_text) else None)
            if target is None and category is not None and category not in catalog.faq_categories:
                target = category  # the new category the import creates, named by --category
            if target is None:
                raise FaqImportError(
                    f"{row.where}, column {fields['category']!r}: no FAQ category {category_text!r} "
                    f"(known: {', '.join(sorted(catalog.faq_categories)) or 'none'}); "
                    f"pass --category ID to put it in a new category file")
        elif category is not None:
            target = category
        else:
            where = f"column {fields['category']!r} is empty" if "category" in fields else "no category column"
            raise FaqImportError(f"{row.where}: {where}; map one or pass --category ID")
        if target not in catalog.faq_categories and target not in new_categories:
            new_categories[target] = category_text or target

        # The same entry as last time: by id, else by its page, else by its question.
        entry_id = None
        if _cell(row, fields, "id"):
            entry_id = _entry_id(row, fields, target, taken)
        else:
            url = _cell(row, fields, "url")
            if url and len(by_url.get(url, [])) == 1:
                entry_id = by_url[url][0]
            else:
                entry_id = by_question.get(_norm(_cell(row, fields, "question")))
        existing = by_id.get(entry_id) if entry_id else None
        incoming = _entry_from_row(row, fields, catalog, target,
                                   section, _plain(existing[1]) if existing else None)
        if entry_id is None:
            entry_id = _entry_id(row, fields, target, taken)
        if entry_id in seen_rows:
            raise FaqImportError(f"{row.where}: the same entry as {seen_rows[entry_id]} ({entry_id})")
        seen_rows[entry_id] = row.where
        taken.add(entry_id)
        if existing is None:
            missing = [name for name in ("url", "updated") if name not in incoming]
            if missing:
                names = ", ".join(f"{name} ({'column ' + repr(fields[name]) if name in fields else 'no column'})"
                                  for name in missing)
                raise FaqImportError(f"{row.where}: a new entry needs {names}")
            changes.append(EntryChange(entry_id, target, "new", incoming={"id": entry_id, **incoming},
                                       where=row.where))
            continue
        home, node = existing
        differences = _differences(_plain(node), incoming)
        changes.append(EntryChange(entry_id, home, "changed" if differences else "unchanged",
                                   differences, incoming, row.where))

    files = _render(changes, documents, originals, new_categories, Path(name).name)
    problems = _trial(catalog_dir, files)
    return FaqImportPlan(Path(name).name, changes, new_categories, files, problems)


def _yaml_value(value: Any, key: str = "") -> Any:
    if key == "updated" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    if isinstance(value, dict):
        mapping = CommentedMap()
        for sub, item in value.items():
            mapping[sub] = _yaml_value(item, sub)
        return mapping
    if isinstance(value, list):
        sequence = CommentedSeq(value)
        sequence.fa.set_flow_style()
        return sequence
    return value


def _merge_entry(node: CommentedMap, incoming: Dict[str, Any]) -> None:
    """Write the import's fields into the entry in place: untouched keys keep their comments."""
    for key, value in incoming.items():
        here = node.get(key)
        if key == "variants":
            if not isinstance(here, CommentedMap):
                node[key] = here = CommentedMap()
            items = here.get("ja")
            if not isinstance(items, CommentedSeq):
                here["ja"] = items = _yaml_value([])
            known = {_norm(str(v)) for v in items}
            for variant in value["ja"]:
                if _norm(variant) not in known:
                    items.append(variant)
                    known.add(_norm(variant))
        elif isinstance(value, dict) and isinstance(here, CommentedMap):
            for sub, text in value.items():
                if here.get(sub) != text:
                    here[sub] = text
        elif _plain(here) != value:
            node[key] = _yaml_value(value, key)


def _render(changes: List[EntryChange], documents: Dict[str, Any], originals: Dict[str, str],
            new_categories: Dict[str, str], source: str) -> Dict[str, str]:
    yaml = _yaml()
    touched = set()
    for change in changes:
        if change.kind == "unchanged":
            continue
        if change.category not in documents:
            title = new_categories.get(change.category, change.category)
            document = CommentedMap()
            document["category"] = _yaml_value({"ja": title, "en": title, "easy": title})
            document["entries"] = CommentedSeq()
            document.yaml_set_start_comment(
                f"Imported from {source} on {real_utcnow():%Y-%m-%d}: check the category's English and "
                f"やさしい日本語 titles, and add en/easy texts to the entries where useful.")
            documents[change.category] = document
        document = documents[change.category]
        touched.add(change.category)
        if change.kind == "new":
            document["entries"].append(_yaml_value(change.incoming))
        else:
            for node in document["entries"]:
                if isinstance(node, CommentedMap) and node.get("id") == change.entry_id:
                    _merge_entry(node, change.incoming)
    files = {}
    for cid in sorted(touched):
        out = io.StringIO()
        yaml.dump(documents[cid], out)
        text = out.getvalue()
        if text != originals.get(cid):
            files[f"{FAQ_FOLDER}/{cid}.yml"] = text
    return files


def _trial(catalog_dir: Path, files: Dict[str, str]) -> List[Problem]:
    """The catalog checker's problems with `files` written (on a copy)."""
    if not files:
        return []
    with tempfile.TemporaryDirectory(prefix="madoguchi-faq-import-") as scratch:
        trial = Path(scratch) / catalog_dir.name
        shutil.copytree(catalog_dir, trial, ignore=shutil.ignore_patterns(".*"))
        for path, text in files.items():
            (trial / path).parent.mkdir(parents=True, exist_ok=True)
            (trial / path).write_text(text, encoding="utf-8")
        try:
            load_catalog(trial)
        except CatalogError as error:
            return list(error.problems)
    return []


def apply_faq_import(plan: FaqImportPlan, catalog_dir: Path) -> List[Path]:
    """Write the plan's files (each atomically) if the merged catalog validated; returns them."""
    if plan.problems:
        raise FaqImportError("the catalog would not validate after the import (nothing written):\n"
                             + "\n".join(f"  {p}" for p in plan.problems))
    written = []
    for path, text in plan.files.items():
        target = Path(catalog_dir) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.importing")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, target)
        written.append(target)
    return written
