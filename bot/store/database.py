"""One SQLAlchemy engine for madoguchi's tables, on the same database as the tracker store."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import sys
import time
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from bot.store.migrate import upgrade_to_head

logger = logging.getLogger(__name__)


class Database:
    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):  # a fresh checkout has no var/ yet: SQLite makes the file, not its folder
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": 30, "check_same_thread": False} if url.startswith("sqlite") else {}
        self.engine = create_engine(url, future=True, connect_args=connect_args, pool_pre_ping=True)
        if url.startswith("sqlite"):
            @event.listens_for(self.engine, "connect")
            def _sqlite_pragmas(connection, _record) -> None:  # concurrent readers while Rasa writes
                cursor = connection.cursor()
                cursor.execute("PRAGMA busy_timeout=30000")
                _switch_to_wal(cursor)
                cursor.close()
        self._sessions = sessionmaker(self.engine, future=True, expire_on_commit=False)

    def upgrade_schema(self) -> None:
        """Make or upgrade our tables to the newest migration (bot/store/migrate.py): the server
        and every tool call this on start. Blocking: before the server starts or in a worker thread."""
        upgrade_to_head(self.engine)

    # The name callers used when tables came from create_all; it now runs the migrations too.
    create_tables = upgrade_schema

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on error.

        Callers on the event loop must hop to a worker thread first (`asyncio.to_thread`):
        a session opened on the loop stalls every resident, so it is logged loudly.
        """
        if _on_event_loop():
            caller = sys._getframe(2).f_code
            logger.warning("blocking database call on the event loop (%s in %s)", caller.co_name, caller.co_filename)
        with self._sessions() as session:
            with session.begin():
                yield session


def _switch_to_wal(cursor: sqlite3.Cursor, patience: float = 30.0) -> None:
    """Two processes opening a new database at once (replicas, tools) race to switch it to WAL,
    and SQLite tells the loser "database is locked" at once, without its busy wait: retry."""
    deadline = time.monotonic() + patience
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
