"""Alembic migrations of our tables, on SQLite and on PostgreSQL (a database of each test's own).

The models and the migrations must agree; a database is made from empty, adopted when create_all
made it before migrations existed, migrated by one process when two start at once, and the
first revision's downgrade leaves Rasa's tracker table alone.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator, Set

import pytest
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import Column, MetaData, String, create_engine, inspect, text

from bot.server import tracker_store_endpoint
from bot.settings import PROJECT_ROOT, Settings
from bot.store import Database
from bot.store.migrate import (
    FOREIGN_TABLES,
    SchemaMismatch,
    SchemaNewerThanCode,
    current_revision,
    differences,
    downgrade,
    first_revision_schema,
    head_revision,
)
from bot.store.models import Base

POSTGRES = "postgresql://postgres@127.0.0.1:5432"
OUR_TABLES = set(Base.metadata.tables)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    """An empty database: a SQLite file, or a PostgreSQL database made for this test and dropped after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'madoguchi.db'}"
        return
    name = f"madoguchi_migrations_{uuid.uuid4().hex[:12]}"
    server = create_engine(f"{POSTGRES}/postgres", future=True, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        server.dispose()


def tables(db: Database) -> Set[str]:
    return set(inspect(db.engine).get_table_names())


def revision(db: Database):
    with db.engine.connect() as connection:
        return current_revision(connection)


def diff_report(db: Database, metadata: MetaData = Base.metadata) -> list:
    with db.engine.connect() as connection:
        return differences(connection, metadata)


def add_rasa_conversation(url: str) -> str:
    """Rasa's own tracker store writes one conversation: its `events` table, beside ours."""
    store = TrackerStore.create(tracker_store_endpoint(Settings(database_url=url)), domain=Domain.empty())
    sender = f"rest:{uuid.uuid4().hex[:8]}"
    tracker = DialogueStateTracker(sender, slots=[])
    tracker.update(UserUttered("住民票がほしい", intent={"name": "residence_certificate", "confidence": 1.0}))
    asyncio.run(store.save(tracker))
    store.engine.dispose()
    return sender


def rasa_senders(db: Database) -> Set[str]:
    with db.engine.connect() as connection:
        return {row[0] for row in connection.execute(text("SELECT sender_id FROM events"))}


def test_the_foreign_table_is_rasas_tracker_table():
    assert FOREIGN_TABLES == {SQLTrackerStore.SQLEvent.__tablename__}


def test_the_models_and_the_migrations_agree(database_url):
    """Fails with the diff when someone changes bot/store/models.py without a migration."""
    db = Database(database_url)
    db.upgrade_schema()
    assert revision(db) == head_revision()
    assert OUR_TABLES <= tables(db)
    diff = diff_report(db)
    assert diff == [], ("bot/store/models.py and bot/store/migrations/ differ; write a migration with "
                        "`madoguchi db revision -m \"…\"`:\n" + "\n".join(map(str, diff)))


def test_a_model_change_without_a_migration_shows_as_a_difference(tmp_path):
    """The agreement test above is only worth something if a new column is noticed."""
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    db.upgrade_schema()
    changed = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["handoffs"].append_column(Column("tag", String(16), nullable=True))
    diff = diff_report(db, changed)
    assert len(diff) == 1 and diff[0][0] == "add_column" and diff[0][3].name == "tag", diff


def test_upgrade_from_empty_makes_our_tables_and_is_quick_once_at_head(database_url):
    db = Database(database_url)
    assert revision(db) is None and not tables(db) & OUR_TABLES
    db.upgrade_schema()
    assert tables(db) == OUR_TABLES | {"alembic_version"}
    started = time.monotonic()
    db.upgrade_schema()  # every start does this: at head it only reads the version
    assert time.monotonic() - started < 0.5
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1


def test_a_database_made_by_create_all_before_migrations_is_stamped_and_upgraded(database_url):
    db = Database(database_url)
    first_revision_schema().create_all(db.engine)  # what create_tables made before this change
    sender = add_rasa_conversation(database_url)
    with db.engine.begin() as connection:
        connection.execute(text("INSERT INTO audit_log (at, actor, action) VALUES (:at, 'staff:a', 'read')"),
                           {"at": "2026-11-14 09:05:00"})
    assert revision(db) is None
    db.upgrade_schema()
    assert revision(db) == head_revision()
    assert diff_report(db) == []
    with db.engine.connect() as connection:  # adopted, not re-made: the data is still there
        assert connection.execute(text("SELECT actor FROM audit_log")).scalar() == "staff:a"
    assert rasa_senders(db) == {sender}


def test_tables_an_older_create_all_did_not_know_are_made_when_adopting(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    baseline = first_revision_schema()
    older = [baseline.tables[name] for name in ("staff_accounts", "handoffs", "audit_log")]
    baseline.create_all(db.engine, tables=older)
    db.upgrade_schema()
    assert revision(db) == head_revision()
    assert tables(db) == OUR_TABLES | {"alembic_version"}


def test_tables_that_differ_from_the_first_revision_are_not_adopted(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'odd.db'}")
    first_revision_schema().create_all(db.engine)
    with db.engine.begin() as connection:  # as made by a create_all from before `awaiting` existed
        connection.execute(text("ALTER TABLE handoffs DROP COLUMN awaiting"))
    with pytest.raises(SchemaMismatch) as refusal:
        db.upgrade_schema()
    assert "awaiting" in str(refusal.value) and "handoffs" in str(refusal.value)
    assert revision(db) is None  # nothing stamped


def test_a_database_migrated_by_a_newer_version_is_refused(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'newer.db'}")
    db.upgrade_schema()
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaNewerThanCode, match="9999"):
        db.upgrade_schema()


UPGRADE_AT = """
import sys, time
from bot.store import Database
db = Database(sys.argv[1])
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # both processes start migrating at this instant
db.upgrade_schema()
"""


def test_two_processes_upgrading_at_once_end_with_one_head_and_no_error(database_url):
    start_at = f"{time.time() + 4:.3f}"  # after both have imported everything
    processes = [subprocess.Popen([sys.executable, "-c", UPGRADE_AT, database_url, start_at], cwd=PROJECT_ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(process.wait(timeout=120), process.stderr.read()) for process in processes]
    for process in processes:
        process.stdout.close()
        process.stderr.close()
    assert [code for code, _ in results] == [0, 0], [stderr[-2000:] for _, stderr in results]
    db = Database(database_url)
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]
    assert diff_report(db) == []


def test_downgrading_the_first_revision_drops_only_our_tables(database_url):
    db = Database(database_url)
    db.upgrade_schema()
    sender = add_rasa_conversation(database_url)
    downgrade(db.engine, "base")
    assert tables(db) == {"events", "alembic_version"}
    assert revision(db) is None
    assert rasa_senders(db) == {sender}


def madoguchi(database_url: str, *arguments: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = dict(os.environ, MADOGUCHI_DATABASE_URL=database_url, RASA_TELEMETRY_ENABLED="false")
    return subprocess.run([sys.executable, "-m", "bot.cli", *arguments], capture_output=True, text=True,
                          input=stdin, cwd=PROJECT_ROOT, env=env, timeout=300)


def test_db_commands(database_url):
    empty = madoguchi(database_url, "db", "current")
    assert empty.returncode == 1 and "our tables do not exist yet" in empty.stdout

    sql = madoguchi(database_url, "db", "upgrade", "--sql")
    assert sql.returncode == 0, sql.stderr
    assert "CREATE TABLE handoffs" in sql.stdout and "CREATE INDEX ix_audit_log_conversation_id" in sql.stdout
    assert ("SERIAL" in sql.stdout) == database_url.startswith("postgresql")  # the database's own dialect
    assert not tables(Database(database_url)) & OUR_TABLES  # printed, not run

    upgraded = madoguchi(database_url, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip() == f"database at migration {head_revision()} (head)"
    current = madoguchi(database_url, "db", "current")
    assert (current.returncode, current.stdout.strip()) == (0, f"{head_revision()} (head)")
    history = madoguchi(database_url, "db", "history")
    assert history.stdout.splitlines()[0].startswith("0001  First schema")

    unchanged = madoguchi(database_url, "db", "revision", "-m", "nothing changed")
    assert unchanged.returncode == 1 and "agree" in unchanged.stderr
    assert not list((PROJECT_ROOT / "bot" / "store" / "migrations" / "versions").glob("*nothing_changed*"))


def test_a_tool_brings_a_pre_migration_database_to_head(tmp_path: Path):
    """`madoguchi staff add` (like the server and every tool) adopts and upgrades on start."""
    url = f"sqlite:///{tmp_path / 'madoguchi.db'}"
    db = Database(url)
    first_revision_schema().create_all(db.engine)
    added = madoguchi(url, "staff", "add", "--username", "clerk1", "--role", "staff", "--password-stdin",
                      stdin="correct horse battery\n")
    assert added.returncode == 0, added.stderr
    assert revision(db) == head_revision()
