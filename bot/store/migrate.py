"""Bring madoguchi's tables to the newest migration, on every start of the server or a tool.

One process migrates at a time (replicas start together): a PostgreSQL advisory lock, or a
lock file beside a SQLite database. A database made by `create_all` before migrations existed
(our tables, no alembic_version) is checked against the first revision and stamped, then
upgraded. Rasa's tracker table in the same database is never compared or touched.
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, TextIO

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import MetaData, create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
FIRST_REVISION = "0001"
# Tables in our database that are not ours: Rasa's SQLTrackerStore makes `events` (its SQLEvent).
FOREIGN_TABLES = frozenset({"events"})
# pg_advisory_lock key: the ASCII bytes of "madoguch", so no other application picks it by chance.
POSTGRES_LOCK_KEY = 0x6D61646F67756368


class SchemaMismatch(RuntimeError):
    """Tables made before migrations existed that are not the first revision's: stamping them would lie."""


class SchemaNewerThanCode(RuntimeError):
    """The database was migrated by a newer madoguchi than this one."""


def is_our_table_name(name: Optional[str], type_: str, parent_names: Any) -> bool:
    """Alembic's include_name hook: Rasa's table and Alembic's own are not part of our schema."""
    return type_ != "table" or name not in FOREIGN_TABLES | {"alembic_version"}


def alembic_config(connection: Optional[Connection] = None, url: str = "",
                   output: Optional[TextIO] = None, **attributes: Any) -> Config:
    """Our Alembic configuration in code (no alembic.ini): env.py reads these attributes."""
    config = Config(output_buffer=output)
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes.update(connection=connection, url=url, **attributes)
    return config


@functools.lru_cache(maxsize=1)
def scripts() -> ScriptDirectory:
    """The revision files, read once per process (every start checks the head)."""
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = scripts().get_current_head()
    assert head is not None, "bot/store/migrations/versions/ has no revision"
    return head


def history() -> List[Script]:
    """Every revision, oldest first."""
    return list(reversed(list(scripts().walk_revisions())))


def first_revision_schema() -> MetaData:
    """The tables as the first revision made them (what a pre-migration database must match)."""
    module = scripts().get_revision(FIRST_REVISION).module
    return module.schema()


def current_revision(connection: Connection) -> Optional[str]:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(engine: Engine) -> None:
    """Create or upgrade our tables. Cheap when the database is already at head (every start)."""
    with engine.connect() as connection:
        if _at_head(connection):
            return
    with _migration_lock(engine) as connection:
        _stamp_if_made_before_migrations(connection)
        connection.commit()
        before = current_revision(connection)
        command.upgrade(alembic_config(connection), "head")
        connection.commit()
        if before != head_revision():
            logger.info("database schema upgraded from %s to %s", before or "nothing", head_revision())


def downgrade(engine: Engine, revision: str) -> None:
    with _migration_lock(engine) as connection:
        command.downgrade(alembic_config(connection), revision)
        connection.commit()


def upgrade_sql(url: str, start: Optional[str], output: TextIO) -> None:
    """The SQL an upgrade from `start` (None: an empty database) to head would run, for a DBA to read."""
    command.upgrade(alembic_config(url=url, output=output), f"{start}:head" if start else "head", sql=True)


def new_revision(message: str, empty: bool = False) -> Optional[Path]:
    """Write a migration for what models.py changed since the head revision (autogenerate, against
    a scratch SQLite database at head), or an empty one to fill by hand. None: nothing changed."""
    written: List[bool] = []

    def skip_when_nothing_changed(context: Any, revision: Any, directives: List[Any]) -> None:
        if not empty and directives[0].upgrade_ops.is_empty():
            directives[:] = []
        written.append(bool(directives))

    next_id = f"{len(history()) + 1:04d}"
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite:///{Path(scratch) / 'head.db'}", future=True)
        upgrade_to_head(engine)
        with engine.connect() as connection:
            config = alembic_config(connection, process_revision_directives=skip_when_nothing_changed)
            script = command.revision(config, message=message, autogenerate=not empty, rev_id=next_id)
        engine.dispose()
    scripts.cache_clear()
    if not written or not written[0] or script is None:
        return None
    assert isinstance(script, Script)
    return Path(script.path)


def differences(connection: Connection, metadata: MetaData,
                include: Callable[[str], bool] = lambda name: name not in FOREIGN_TABLES) -> List[Any]:
    """Alembic's autogenerate diff between `metadata` and the database (empty: they agree)."""
    context = MigrationContext.configure(connection, opts={
        "compare_type": True,
        "include_name": lambda name, type_, parents: type_ != "table" or (
            name != "alembic_version" and include(name)),
        "include_object": lambda obj, name, type_, reflected, compare_to: type_ != "table" or include(name),
    })
    return list(compare_metadata(context, metadata))


def _at_head(connection: Connection) -> bool:
    current = current_revision(connection)
    if current is not None and current != head_revision() and current not in _known_revisions():
        raise SchemaNewerThanCode(
            f"the database is at migration {current}, which this madoguchi does not know (its newest is "
            f"{head_revision()}): a newer version migrated it; run that version")
    return current == head_revision()


def _known_revisions() -> List[str]:
    return [script.revision for script in history()]


def _stamp_if_made_before_migrations(connection: Connection) -> None:
    """Tables made by create_all (no alembic_version): check they are the first revision's, make
    the ones an older create_all did not know yet, and record the first revision."""
    if current_revision(connection) is not None:
        return
    baseline = first_revision_schema()
    present = set(inspect(connection).get_table_names()) & set(baseline.tables)
    if not present:
        return  # an empty database: the first revision makes everything
    diff = differences(connection, baseline, include=lambda name: name in present)
    if diff:
        raise SchemaMismatch(
            "these tables were made before migrations existed and differ from the first migration "
            f"({FIRST_REVISION}), so they cannot be adopted: " + "; ".join(map(str, diff))
            + ". Back the database up, then make the tables match (or start from an empty database).")
    missing = [table for table in baseline.sorted_tables if table.name not in present]
    baseline.create_all(connection, tables=missing)
    MigrationContext.configure(connection).stamp(scripts(), FIRST_REVISION)
    logger.info("adopted tables made before migrations (%d present, %d added) at migration %s",
                len(present), len(missing), FIRST_REVISION)


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """A connection that only one process at a time holds, for checking and migrating."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": POSTGRES_LOCK_KEY})
            connection.commit()
            try:
                yield connection
            finally:
                connection.rollback()  # a failed migration leaves the transaction aborted
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": POSTGRES_LOCK_KEY})
                connection.commit()
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":  # another engine: its own locking; memory: one process
        with engine.connect() as connection:
            yield connection
        return
    with open(f"{database}.migrate-lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file closes, even if the process dies
        with engine.connect() as connection:
            yield connection
