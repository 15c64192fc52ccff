"""Safe edits of intents/: validate first, write atomically, keep every version, never lose an edit.

Every change is planned as new texts for one or more catalog files, checked by the catalog's
own checker on a copy of the whole folder with the change in it, and only then written:
each file to a temporary file beside it and renamed over it, so a reader (the server's
catalog provider, which reloads on a changed modification time) sees the old file or the
new one, never half of one. One lock per catalog folder serializes the read-check-write of
every edit, and each edit names the version (digest) of the file it started from: an edit
made on an older version is refused (`EditConflict`, HTTP 409) instead of overwriting
someone else's. Everything here blocks: the API calls it through `asyncio.to_thread`.
"""
from __future__ import annotations

import difflib
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from bot.admin import editor_form
from bot.admin.history import CatalogHistory, digest
from bot.catalog.load import ID_PATTERN, CatalogError, load_catalog
from bot.catalog.model import Catalog
from bot.catalog.provider import Signature, files_signature

PROCEDURES = "procedures"
CONVERSATION_FILE = "conversation.yml"
LIFE_EVENTS_FILE = "life_events.yml"
_LOCKS: Dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


class EditConflict(Exception):
    """The file changed since the editor loaded it (someone else saved first)."""


class EditInvalid(Exception):
    """The edit does not pass the catalog checker; `problems` says where and why."""

    def __init__(self, problems: List[Dict[str, Any]]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


class UnknownEntry(Exception):
    """No such procedure, intent or version."""


@dataclass
class SaveResult:
    versions: Dict[str, str]  # path → digest now on disk
    history_ids: List[int] = field(default_factory=list)


def _lock_for(directory: Path) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(str(directory.resolve()), threading.Lock())


MAX_ID_CHARS = 100


def procedure_path(procedure_id: str) -> str:
    # Bounded: the id becomes a file name, and the file system refuses long ones with an error of its own.
    if len(procedure_id) > MAX_ID_CHARS or not ID_PATTERN.match(procedure_id):
        raise UnknownEntry(procedure_id)
    return f"{PROCEDURES}/{procedure_id}.yml"


class CatalogEditor:
    def __init__(self, directory: Path, history: CatalogHistory) -> None:
        self.directory = Path(directory)
        self.history = history
        self.lock = _lock_for(self.directory)
        self._baseline: Optional[Tuple[Signature, Tuple[List[Dict[str, Any]], Optional[Catalog]]]] = None
        self._baseline_lock = threading.Lock()

    # --- reading ---------------------------------------------------------------------
    def read(self, path: str) -> str:
        target = self._resolve(path)
        if not target.is_file():
            raise UnknownEntry(path)
        return target.read_text(encoding="utf-8")

    def procedure_ids(self) -> List[str]:
        return sorted(p.stem for p in (self.directory / PROCEDURES).glob("*.yml"))

    def procedure_form(self, procedure_id: str) -> Dict[str, Any]:
        text = self.read(procedure_path(procedure_id))
        doc = editor_form.load_text(text)
        return {"id": procedure_id, "path": procedure_path(procedure_id), "version": digest(text),
                "fields": editor_form.describe(doc), "data": editor_form.to_form(doc)}

    def intent_file(self, intent: str) -> Tuple[str, Tuple[str, ...]]:
        """(catalog file, keys down to the intent's node) of a trainable intent."""
        if (self.directory / procedure_path(intent)).is_file():
            return procedure_path(intent), ()
        for path, top in ((CONVERSATION_FILE, "intents"), (LIFE_EVENTS_FILE, "life_events")):
            doc = editor_form.load_text(self.read(path))
            if isinstance(doc, dict) and isinstance(doc.get(top), dict) and intent in doc[top]:
                return path, (top, intent)
        raise UnknownEntry(intent)

    # --- planning (nothing written) ----------------------------------------------------
    def plan_procedure(self, procedure_id: str, form: Dict[str, Any],
                       moves: Optional[List[Dict[str, str]]] = None) -> Dict[str, str]:
        """New texts of every file the edit touches: the procedure, and each intent that
        receives a moved example."""
        path = procedure_path(procedure_id)
        doc = editor_form.load_text(self.read(path))
        editor_form.apply_form(doc, form)
        changes = {path: editor_form.dump_text(doc)}
        for move in moves or []:
            text, target = str(move.get("text") or "").strip(), str(move.get("to") or "")
            if not text or not target or target == procedure_id:
                continue
            for language_items in (doc.get("examples") or {}).values():  # moved, so not also kept here
                if text in language_items:
                    del language_items[language_items.index(text)]
            changes[path] = editor_form.dump_text(doc)
            self._plan_examples(changes, target, [text])
        return changes

    def plan_examples(self, intent: str, texts: List[str]) -> Dict[str, str]:
        changes: Dict[str, str] = {}
        self._plan_examples(changes, intent, texts)
        return changes

    def _plan_examples(self, changes: Dict[str, str], intent: str, texts: List[str]) -> None:
        path, keys = self.intent_file(intent)
        doc = editor_form.load_text(changes[path] if path in changes else self.read(path))
        node = doc
        for key in keys:
            node = node[key]
        editor_form.add_examples(node, [t for t in texts if t.strip()])
        changes[path] = editor_form.dump_text(doc)

    def check(self, changes: Dict[str, str]) -> Tuple[List[Dict[str, Any]], Optional[Catalog]]:
        """Problems the change brings (those the catalog had before are not blamed on it),
        and the catalog as it would be with the change."""
        with tempfile.TemporaryDirectory(prefix="madoguchi-edit-") as scratch:
            root = Path(scratch) / "intents"
            for source in self.directory.rglob("*.yml"):
                copy = root / source.relative_to(self.directory)
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, copy)
            before = self._baseline_problems()
            for path, text in changes.items():
                (root / path).write_text(text, encoding="utf-8")
            try:
                return [], load_catalog(root)
            except CatalogError as error:
                known = {(p["file"], p["field"], p["message"]) for p in before}
                fresh = [p for p in map(_problem_json, error.problems)
                         if (p["file"], p["field"], p["message"]) not in known]
                return fresh, None

    def _disk_state(self) -> Tuple[List[Dict[str, Any]], Optional[Catalog]]:
        """The catalog on disk now and its problems, cached until a file changes (a preview
        checks on every pause in typing)."""
        signature = files_signature(self.directory)
        with self._baseline_lock:
            if self._baseline is None or self._baseline[0] != signature:
                try:
                    state: Tuple[List[Dict[str, Any]], Optional[Catalog]] = ([], load_catalog(self.directory))
                except CatalogError as error:
                    state = ([_problem_json(p) for p in error.problems], None)
                self._baseline = (signature, state)
            return self._baseline[1]

    def _baseline_problems(self) -> List[Dict[str, Any]]:
        return self._disk_state()[0]

    def catalog(self) -> Optional[Catalog]:
        """The catalog as the files are now, None if they do not pass the checker. The server's
        provider shows an edit within seconds; the console must show it at once (the missed-question
        inbox leaves out questions that just became examples)."""
        return self._disk_state()[1]

    def diff(self, changes: Dict[str, str]) -> str:
        parts: List[str] = []
        for path, text in changes.items():
            old = self.read(path)
            parts.extend(difflib.unified_diff(old.splitlines(keepends=True), text.splitlines(keepends=True),
                                              fromfile=f"intents/{path}", tofile=f"intents/{path}"))
        return "".join(parts)

    # --- writing -----------------------------------------------------------------------
    def save(self, author: str, action: str, changes_for: Any, base: Dict[str, str]) -> SaveResult:
        """Plan (`changes_for()`), check and write under the lock. `base` maps each file the
        editor showed to the version it showed; a file that has changed since → EditConflict."""
        with self.lock:
            for path, version in base.items():
                if digest(self.read(path)) != version:
                    raise EditConflict(path)
            changes: Dict[str, str] = changes_for()
            problems, _ = self.check(changes)
            if problems:
                raise EditInvalid(problems)
            result = SaveResult(versions={})
            for path, text in changes.items():
                previous = self.read(path)
                if previous == text:
                    result.versions[path] = digest(text)
                    continue
                _write_atomically(self._resolve(path), text)
                result.history_ids.append(self.history.record(path, text, author, action, previous=previous))
                result.versions[path] = digest(text)
            return result

    def restore(self, author: str, version_id: int, base_version: str) -> Tuple[str, SaveResult]:
        found = self.history.get(version_id)
        if found is None:
            raise UnknownEntry(str(version_id))
        path = found["path"]
        return path, self.save(author, "restore", lambda: {path: found["content"]}, {path: base_version})

    def _resolve(self, path: str) -> Path:
        target = (self.directory / path).resolve()
        if self.directory.resolve() not in target.parents or target.suffix != ".yml":
            raise UnknownEntry(path)
        return target


def _problem_json(problem: Any) -> Dict[str, Any]:
    # The checker names files from the catalog folder's parent ("intents/procedures/x.yml"): drop the folder.
    path = problem.file.split("/", 1)[1] if "/" in problem.file else problem.file
    return {"file": path, "line": problem.line, "field": problem.field, "message": problem.message}


def _write_atomically(path: Path, text: str) -> None:
    """Temp file in the same folder, flushed to disk, renamed over the file (atomic on POSIX)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
