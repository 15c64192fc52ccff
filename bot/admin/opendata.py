"""The catalog as open data (Act on Promotion of Public and Private Sector Data Utilization,
Art. 11 and 15): public JSON, CSV and a JSON Schema, under a licence (CC BY 4.0 unless the
city sets another), and the import of another municipality's export after showing the
differences.

The export is made from the procedure files themselves (every field, in file order), so a
field the catalog gains later is published and imported without a change here. The import
writes YAML back with ruamel's round-trip mode: comments, key order and quoting of the
untouched parts stay as the administrator wrote them."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from bot.admin.spreadsheet import SafeCsvWriter, is_formula
from bot.catalog import CatalogError, load_catalog
from bot.clock import real_utcnow
from bot.errors import error_response
from bot.services import services_of
from bot.settings import Settings

SCHEMA_PATH = Path(__file__).with_name("opendata_schema.json")
FORMAT, VERSION = "madoguchi-procedures", 1
# Licences a city is likely to choose; another one needs MADOGUCHI_OPENDATA_LICENSE_URL.
LICENSES = {
    "CC-BY-4.0": ("Creative Commons Attribution 4.0 International", "https://creativecommons.org/licenses/by/4.0/"),
    "CC0-1.0": ("Creative Commons Zero v1.0 Universal", "https://creativecommons.org/publicdomain/zero/1.0/"),
    "CC-BY-SA-4.0": ("Creative Commons Attribution Share Alike 4.0 International",
                     "https://creativecommons.org/licenses/by-sa/4.0/"),
    "PDL-1.0": ("公共データ利用規約（第1.0版） Public Data License (Version 1.0)",
                "https://www.digital.go.jp/resources/open_data/public_data_license_v1.0"),
}
LANGUAGES = ("ja", "en", "easy")
WAYS = ("online", "convenience_store", "counter", "post", "other")
INFORMATIONAL = ("counter",)  # exported for readers; an import uses `section` instead


class ImportRefused(Exception):
    """The file cannot be merged (not our format, fails the schema, or the merged catalog
    does not validate); the message lists why."""


@dataclass(frozen=True)
class Publication:
    license_id: str
    license_name: str
    license_url: str
    attribution: str  # empty: the city's name

    @classmethod
    def from_settings(cls, settings: Settings) -> "Publication":
        name, url = LICENSES.get(settings.opendata_license, (settings.opendata_license, ""))
        return cls(settings.opendata_license, name, settings.opendata_license_url or url,
                   settings.opendata_attribution)


def schema() -> Dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _yaml() -> YAML:
    """Round-trip YAML in the catalog's own layout (a file loaded and dumped is byte-identical)."""
    yaml = YAML()
    yaml.preserve_quotes = True  # type: ignore[assignment]  # ruamel declares these as None
    yaml.width = 4096  # type: ignore[assignment]
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def plain(value: Any) -> Any:
    """ruamel's YAML values as JSON values (dates as YYYY-MM-DD)."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)


def procedure_documents(catalog_dir: Path) -> Dict[str, Dict[str, Any]]:
    """Every procedure file as plain data, by id (the file name)."""
    yaml = YAML(typ="safe")
    return {path.stem: plain(yaml.load(path.read_text(encoding="utf-8")))
            for path in sorted(Path(catalog_dir, "procedures").glob("*.yml"))}


def export_document(catalog_dir: Path, publication: Publication) -> Dict[str, Any]:
    """procedures.json: the validated catalog's procedures with licence and publisher.

    Blocking (reads and validates every file): the server calls it in a worker thread."""
    catalog = load_catalog(catalog_dir)  # never publish a catalog that does not validate
    city = catalog.city
    procedures = []
    for pid, document in procedure_documents(catalog_dir).items():
        counter = catalog.counter_for(pid)
        procedures.append({**document, "counter": {
            "name": {language: counter.name.get(language) for language in LANGUAGES},
            "place": {language: counter.place.get(language) for language in LANGUAGES},
            "phone": counter.phone}})
    return {
        "format": FORMAT, "version": VERSION,
        "license": {"id": publication.license_id, "name": publication.license_name, "url": publication.license_url},
        "publisher": {"name": {language: city.name.get(language) for language in LANGUAGES},
                      "attribution": publication.attribution or f"{city.name.ja} ({city.name.en})",
                      "phone": city.phone,
                      "address": {language: city.address.get(language) for language in LANGUAGES}},
        "generated_at": real_utcnow().isoformat(timespec="seconds") + "Z",
        "procedures": procedures,
    }


FAQ_FORMAT = "madoguchi-faq"


def _publisher(catalog: Any, publication: Publication) -> Dict[str, Any]:
    city = catalog.city
    return {"name": {language: city.name.get(language) for language in LANGUAGES},
            "attribution": publication.attribution or f"{city.name.ja} ({city.name.en})",
            "phone": city.phone,
            "address": {language: city.address.get(language) for language in LANGUAGES}}


def faq_document(catalog_dir: Path, publication: Publication) -> Dict[str, Any]:
    """faq.json: the city's FAQ as the validated catalog has it (categories, then entries in
    file order), each entry with its section's name and phone. Blocking: a worker thread."""
    catalog = load_catalog(catalog_dir)
    categories = [{"id": cid, "title": {language: category.title.get(language) for language in LANGUAGES}}
                  for cid, category in catalog.faq_categories.items()]
    entries = []
    for entry in catalog.faq.values():
        counter = catalog.counters.get(entry.section)
        entries.append({
            "id": entry.id, "category": entry.category, "section": entry.section,
            "section_name": {language: counter.name.get(language) for language in LANGUAGES} if counter else None,
            "section_phone": counter.phone if counter else None,
            "question": dict(entry.question), "answer": dict(entry.answer),
            "variants": {language: list(items) for language, items in entry.variants.items()},
            "url": entry.url, "updated": entry.updated.isoformat(), "procedure": entry.procedure,
        })
    return {
        "format": FAQ_FORMAT, "version": VERSION,
        "license": {"id": publication.license_id, "name": publication.license_name, "url": publication.license_url},
        "publisher": _publisher(catalog, publication),
        "generated_at": real_utcnow().isoformat(timespec="seconds") + "Z",
        "categories": categories, "entries": entries,
    }


FAQ_CSV_COLUMNS = ("id", "category", "category_title", "question", "answer", "question_en", "answer_en",
                   "question_easy", "answer_easy", "variants", "section", "section_name", "section_phone",
                   "url", "updated", "procedure", "license", "attribution")


def faq_to_csv(document: Dict[str, Any]) -> str:
    """One row per FAQ entry (Japanese first, en/easy beside it); UTF-8 with a BOM; formula-like
    cells neutralised as in `to_csv`."""
    titles = {category["id"]: category["title"]["ja"] for category in document["categories"]}
    out = io.StringIO()
    writer = SafeCsvWriter(csv.writer(out, lineterminator="\r\n"))
    writer.writerow(FAQ_CSV_COLUMNS)
    for entry in document["entries"]:
        question, answer = entry["question"], entry["answer"]
        writer.writerow([
            entry["id"], entry["category"], titles.get(entry["category"], ""), question["ja"], answer["ja"],
            question.get("en", ""), answer.get("en", ""), question.get("easy", ""), answer.get("easy", ""),
            "\n".join(entry["variants"].get("ja", [])), entry["section"],
            (entry["section_name"] or {}).get("ja", ""), entry["section_phone"] or "", entry["url"],
            entry["updated"], entry["procedure"] or "", document["license"]["id"],
            document["publisher"]["attribution"]])
    return "\ufeff" + out.getvalue()


CSV_COLUMNS = ("id", "language", "title", "summary", "audience", "deadline", "documents", "fee_yen", "fee",
               *(f"how_{way}" for way in WAYS), "counter", "place", "phone", "section", "owner", "review_by",
               "related", "license", "attribution")


def to_csv(document: Dict[str, Any]) -> str:
    """One row per procedure and language (ja, en, easy); lists joined by newlines.
    UTF-8 with a BOM, so spreadsheet programs read the Japanese correctly; a cell that a
    spreadsheet would run as a formula gets a leading `'` (bot/admin/spreadsheet.py)."""
    out = io.StringIO()
    writer = SafeCsvWriter(csv.writer(out, lineterminator="\r\n"))
    writer.writerow(CSV_COLUMNS)
    for procedure in document["procedures"]:
        for language in LANGUAGES:
            def text(key: str, procedure: Dict[str, Any] = procedure, language: str = language) -> str:
                return (procedure.get(key) or {}).get(language, "")
            how = procedure.get("how") or {}
            counter = procedure.get("counter") or {}
            writer.writerow([
                procedure["id"], language, text("title"), text("summary"), text("audience"), text("deadline"),
                "\n".join((procedure.get("documents") or {}).get(language, [])),
                (procedure.get("fee") or {}).get("yen", ""), (procedure.get("fee") or {}).get(language, ""),
                *((how.get(way) or {}).get(language, "") for way in WAYS),
                (counter.get("name") or {}).get(language, ""), (counter.get("place") or {}).get(language, ""),
                counter.get("phone", ""), procedure.get("section", ""), procedure.get("owner", ""),
                procedure.get("review_by", ""), " ".join(procedure.get("related") or []),
                document["license"]["id"], document["publisher"]["attribution"]])
    return "\ufeff" + out.getvalue()


# --- import ----------------------------------------------------------------------------

@dataclass
class Change:
    procedure_id: str
    kind: str  # new | changed
    fields: List[Tuple[str, Any, Any]] = field(default_factory=list)  # (path, here, theirs)
    incoming: Dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportPlan:
    source: str
    attribution: str
    license_id: str
    changes: Dict[str, Change]
    unchanged: List[str]

    def describe(self) -> List[str]:
        lines = [f"import from {self.source}: {self.attribution} (licence {self.license_id})"]
        for pid, change in sorted(self.changes.items()):
            if change.kind == "new":
                title = (change.incoming.get("title") or {}).get("ja", "")
                lines.append(f"+ {pid}: new procedure {title}")
                continue
            lines.append(f"~ {pid}:")
            for path, here, theirs in change.fields:
                if path.startswith("examples.") and here is None:
                    lines.append(f"    {path}: + {theirs!r}")
                else:
                    lines.append(f"    {path}: {here!r} → {theirs!r}")
        lines.append(f"{len(self.changes)} procedure(s) to change, {len(self.unchanged)} unchanged")
        return lines


def _differences(here: Any, theirs: Any, path: str, out: List[Tuple[str, Any, Any]]) -> None:
    """Fields `theirs` would change; fields only we have are kept (a merge, not a replace).
    Examples are merged too: their new sentences are added, ours stay."""
    if isinstance(theirs, dict) and isinstance(here, dict):
        for key, value in theirs.items():
            sub = f"{path}.{key}" if path else key
            if path == "examples":
                for sentence in value or []:
                    if sentence not in (here.get(key) or []):
                        out.append((sub, None, sentence))
            elif key not in here:
                out.append((sub, None, value))
            else:
                _differences(here[key], value, sub, out)
    elif here != theirs:
        out.append((path, here, theirs))


def plan_import(file: Path, catalog_dir: Path) -> ImportPlan:
    """What merging `file` (a procedures.json export) into `catalog_dir` would change."""
    import jsonschema

    try:
        document = json.loads(Path(file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ImportRefused(f"cannot read {file}: {error}") from None
    validator = jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        raise ImportRefused("not a valid procedures.json export:\n" + "\n".join(
            f"  {'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}" for e in errors[:20]))
    formulas = list(_formula_cells(document.get("procedures"), "procedures"))
    if formulas:
        raise ImportRefused("cells that a spreadsheet would run as formulas (starting with = + - @, a tab or "
                            "a carriage return) are refused:\n" + "\n".join(f"  {path}: {value[:60]!r}"
                                                                           for path, value in formulas[:20]))
    ours = procedure_documents(catalog_dir)
    changes: Dict[str, Change] = {}
    unchanged: List[str] = []
    for procedure in document["procedures"]:
        pid = procedure["id"]
        incoming = {key: value for key, value in procedure.items() if key not in INFORMATIONAL}
        if pid not in ours:
            changes[pid] = Change(pid, "new", incoming=incoming)
            continue
        differences: List[Tuple[str, Any, Any]] = []
        _differences(ours[pid], incoming, "", differences)
        if differences:
            changes[pid] = Change(pid, "changed", differences, incoming)
        else:
            unchanged.append(pid)
    return ImportPlan(str(file), document["publisher"]["attribution"], document["license"]["id"], changes, unchanged)


def _formula_cells(value: Any, path: str) -> Any:
    """(field path, text) of every string in `value` that starts like a spreadsheet formula."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _formula_cells(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            name = item.get("id") if isinstance(item, dict) and isinstance(item.get("id"), str) else index
            yield from _formula_cells(item, f"{path}/{name}")
    elif is_formula(value):
        yield path, value


def _yaml_value(key: str, value: Any, like: Any = None) -> Any:
    """A JSON value as the YAML the catalog uses (dates unquoted, short lists in flow style)."""
    if key == "review_by" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    if isinstance(value, dict):
        mapping = CommentedMap()
        for sub_key, item in value.items():
            mapping[sub_key] = _yaml_value(sub_key, item)
        if isinstance(like, CommentedMap) and like.fa.flow_style():
            mapping.fa.set_flow_style()
        return mapping
    if isinstance(value, list):
        sequence = CommentedSeq(_yaml_value("", item) for item in value)
        if (isinstance(like, CommentedSeq) and like.fa.flow_style()) or key == "related":
            sequence.fa.set_flow_style()
        return sequence
    return value


def _merge(target: CommentedMap, incoming: Dict[str, Any], path: str = "") -> None:
    """Write `incoming` into the round-trip document in place: untouched keys keep their comments."""
    for key, value in incoming.items():
        here = target.get(key)
        if path == "examples" and isinstance(here, CommentedSeq):
            for sentence in value or []:
                if sentence not in here:
                    here.append(sentence)
        elif isinstance(value, dict) and isinstance(here, CommentedMap):
            _merge(here, value, f"{path}.{key}" if path else key)
        elif plain(here) != value:
            target[key] = _yaml_value(key, value, like=here)


def _render(plan_change: Change, existing: Optional[Path], source: str) -> str:
    yaml = _yaml()
    if existing is not None:
        document = yaml.load(existing.read_text(encoding="utf-8"))
        _merge(document, plan_change.incoming)
    else:
        document = _yaml_value("", plan_change.incoming)
        document.yaml_set_start_comment(f"Imported from {source} on {real_utcnow():%Y-%m-%d} (open data). "
                                        f"Check the local values (section, fee, counter) before publishing.")
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def apply_import(plan: ImportPlan, catalog_dir: Path) -> List[Path]:
    """Write the plan into `catalog_dir` only if the merged catalog validates (checked on a copy
    first); each file is replaced atomically. Returns the files written."""
    catalog_dir = Path(catalog_dir)
    rendered = {}
    for pid, change in plan.changes.items():
        existing = catalog_dir / "procedures" / f"{pid}.yml"
        rendered[pid] = _render(change, existing if existing.exists() else None, plan.attribution)
    with tempfile.TemporaryDirectory() as scratch:
        trial = Path(scratch) / catalog_dir.name
        shutil.copytree(catalog_dir, trial)
        for pid, text in rendered.items():
            (trial / "procedures" / f"{pid}.yml").write_text(text, encoding="utf-8")
        try:
            load_catalog(trial)
        except CatalogError as error:
            raise ImportRefused("the merged catalog would not validate (nothing written):\n" + "\n".join(
                f"  {problem}" for problem in error.problems)) from None
    written = []
    for pid, text in rendered.items():
        target = catalog_dir / "procedures" / f"{pid}.yml"
        temporary = target.with_suffix(".yml.importing")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, target)
        written.append(target)
    return written


# --- public routes ---------------------------------------------------------------------

def opendata_blueprint() -> Any:
    """GET /opendata/procedures.json, /opendata/procedures.csv, /opendata/faq.json,
    /opendata/faq.csv, /opendata/schema.json: public,
    no login. Made in a worker thread and kept until a catalog file changes; while an edit
    does not validate, the last good export stays published (503 if there never was one)."""
    import asyncio

    from sanic import Blueprint, response

    from bot.catalog.provider import files_signature

    bp = Blueprint("madoguchi_opendata", url_prefix="/opendata")
    cache: Dict[str, Any] = {"signature": None, "json": None, "csv": None, "faq_json": None, "faq_csv": None}
    public = {"Cache-Control": "public, max-age=300"}
    schema_text = SCHEMA_PATH.read_text(encoding="utf-8")

    def build(settings: Settings) -> Dict[str, Any]:
        signature = files_signature(settings.catalog_dir)
        if cache["signature"] != signature:
            try:
                publication = Publication.from_settings(settings)
                document = export_document(settings.catalog_dir, publication)
                faq = faq_document(settings.catalog_dir, publication)
            except CatalogError:
                return cache  # the last good export (or none yet)
            cache.update(signature=signature, json=json.dumps(document, ensure_ascii=False, indent=1),
                         csv=to_csv(document), faq_json=json.dumps(faq, ensure_ascii=False, indent=1),
                         faq_csv=faq_to_csv(faq))
        return cache

    async def current(request: Any, kind: str) -> Optional[str]:
        return (await asyncio.to_thread(build, services_of(request.app).settings))[kind]

    def unavailable() -> Any:
        return error_response(503, "catalog_invalid", "The catalog does not validate yet.")

    @bp.get("/procedures.json")
    async def procedures_json(request: Any) -> Any:
        text = await current(request, "json")
        if text is None:
            return unavailable()
        return response.text(text, headers=public, content_type="application/json; charset=utf-8")

    @bp.get("/procedures.csv")
    async def procedures_csv(request: Any) -> Any:
        text = await current(request, "csv")
        if text is None:
            return unavailable()
        return response.text(text, content_type="text/csv; charset=utf-8",
                             headers={**public, "Content-Disposition": 'attachment; filename="procedures.csv"'})

    @bp.get("/faq.json")
    async def faq_json(request: Any) -> Any:
        text = await current(request, "faq_json")
        if text is None:
            return unavailable()
        return response.text(text, headers=public, content_type="application/json; charset=utf-8")

    @bp.get("/faq.csv")
    async def faq_csv(request: Any) -> Any:
        text = await current(request, "faq_csv")
        if text is None:
            return unavailable()
        return response.text(text, content_type="text/csv; charset=utf-8",
                             headers={**public, "Content-Disposition": 'attachment; filename="faq.csv"'})

    @bp.get("/schema.json")
    async def schema_json(request: Any) -> Any:
        return response.text(schema_text, headers=public, content_type="application/schema+json; charset=utf-8")

    return bp
