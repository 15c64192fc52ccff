"""`madoguchi catalog …`: validate, stale, publish/rollback/history on a registry of its own.
Every command runs as a real subprocess on a temporary catalog, models folder and database."""
from __future__ import annotations

import fcntl
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from bot.admin.models import ModelRegistry
from bot.settings import PROJECT_ROOT
from bot.store import Database
from tests.cli import madoguchi


@pytest.fixture
def home(tmp_path: Path) -> Path:
    shutil.copytree(PROJECT_ROOT / "intents", tmp_path / "intents")
    (tmp_path / "models").mkdir()
    return tmp_path


def test_validate_reports_file_line_field_message_and_fails(home):
    path = home / "intents" / "procedures" / "moving_in.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("review_by: 2027-03-31", "review_by: someday").replace(
        "related: [moving_out,", "related: [no_such_procedure,"), encoding="utf-8")
    for command in (["catalog", "validate", str(home / "intents")], ["check", str(home / "intents")],
                    ["catalog", "validate"]):
        result = madoguchi(home, *command)
        assert result.returncode == 1, command
        lines = result.stderr.splitlines()
        assert re.search(r"^intents/procedures/moving_in\.yml:\d+: review_by: ", result.stderr, re.M), lines
        assert any(re.match(r"intents/procedures/moving_in\.yml:\d+: related\[0\]: unknown procedure id", line)
                   for line in lines), lines
        assert "2 problem(s)" in lines[-1]


def test_validate_passes_on_the_catalog(home):
    result = madoguchi(home, "catalog", "validate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("catalog OK: 23 procedures")


def test_stale_lists_overdue_procedures_by_owner(home):
    path = home / "intents" / "procedures" / "tax_certificate.yml"
    path.write_text(re.sub(r"review_by: \S+", "review_by: 2026-01-31", path.read_text(encoding="utf-8")),
                    encoding="utf-8")
    overdue = madoguchi(home, "catalog", "stale", "--today", "2026-03-01")
    assert overdue.returncode == 1, overdue.stderr
    owner = re.search(r"^owner: (.+)$", path.read_text(encoding="utf-8"), re.M).group(1).strip()
    assert overdue.stdout.splitlines()[0] == f"{owner}:"
    assert "tax_certificate  review by 2026-01-31 (29 day(s) overdue)" in overdue.stdout
    assert overdue.stdout.count("overdue") == 1
    fresh = madoguchi(home, "catalog", "stale", "--today", "2026-01-01")
    assert fresh.returncode == 0 and "no procedure is past its review-by date" in fresh.stdout


def test_publish_rollback_and_history(home):
    """Model files stand in for trained ones (the registry only needs them to exist)."""
    registry = ModelRegistry(Database(f"sqlite:///{home / 'var' / 'madoguchi.db'}"))
    registry.db.create_tables()
    ids = []
    for fingerprint in ("aaaa000000000001", "bbbb000000000002"):
        path = home / "models" / f"madoguchi-{fingerprint}.tar.gz"
        path.write_bytes(b"stand-in")
        ids.append(registry.register(path, fingerprint, "cli:test").id)
    first, second = ids
    assert madoguchi(home, "catalog", "rollback").returncode == 1  # nothing published yet
    assert madoguchi(home, "catalog", "publish", str(first)).returncode == 0
    newest = madoguchi(home, "catalog", "publish")
    assert newest.returncode == 0 and f"published model {second}" in newest.stdout
    assert registry.published().id == second
    again = madoguchi(home, "catalog", "publish", str(second))
    assert again.returncode == 1 and "already running" in again.stderr
    back = madoguchi(home, "catalog", "rollback")
    assert back.returncode == 0 and f"rolled back to model {first}" in back.stdout
    assert registry.published().id == first
    history = madoguchi(home, "catalog", "history").stdout.splitlines()
    assert re.match(rf"\*\s+{first}\s+aaaa000000000001 .* not evaluated\s+published ", history[1]), history
    assert re.match(rf" \s+{second}\s+bbbb000000000002 ", history[0]), history
    (home / "models" / "madoguchi-bbbb000000000002.tar.gz").unlink()
    gone = madoguchi(home, "catalog", "publish", str(second))
    assert gone.returncode == 1 and "file of model" in gone.stderr
    with sqlite3.connect(home / "var" / "madoguchi.db") as db:
        actions = [row[0] for row in db.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["model.publish", "model.publish", "model.rollback"]


def test_one_training_at_a_time(home):
    with open(home / "models" / ".training.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = madoguchi(home, "catalog", "train")
    assert result.returncode == 3 and "another training is running" in result.stderr
    assert not list((home / "models").glob("*.tar.gz"))


def test_evaluate_without_a_model_says_what_to_do(home):
    result = madoguchi(home, "catalog", "evaluate")
    assert result.returncode == 1 and "madoguchi catalog train" in result.stderr


def test_files_of_models_too_old_to_publish_are_removed_but_not_the_published_one(home):
    registry = ModelRegistry(Database(f"sqlite:///{home / 'var' / 'madoguchi.db'}"))
    registry.db.create_tables()
    paths = []
    for n in range(8):
        path = home / "models" / f"madoguchi-{n:016d}.tar.gz"
        path.write_bytes(b"stand-in")
        paths.append(path)
        model = registry.register(path, f"{n:016d}", "cli:test")
        if n == 1:
            registry.mark_published(model.id, "cli:test")  # an old model still published
    removed = registry.prune_files(running_id=registry.all()[-1].id)  # the oldest is running somewhere
    assert sorted(removed) == [paths[2]]  # older than the newest five, neither published nor running
    assert [p.exists() for p in paths] == [True, True, False, True, True, True, True, True]
    assert len(registry.all()) == 8  # the history keeps every row
