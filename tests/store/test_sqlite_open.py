"""Opening a SQLite database another process is writing: replicas and tools start together."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from sqlalchemy import text

from bot.store import Database


def test_opening_waits_while_another_connection_writes_instead_of_failing_at_once(tmp_path: Path):
    # A write transaction on a database still in rollback-journal mode, as while another process
    # switches a new database to WAL: SQLite answers the switch "database is locked" at once.
    path = tmp_path / "madoguchi.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE other_process (x)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO other_process VALUES (1)")
    threading.Timer(0.5, writer.execute, ["COMMIT"]).start()
    db = Database(f"sqlite:///{path}")
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("SELECT count(*) FROM other_process")).scalar() == 1
    writer.close()
    db.engine.dispose()
