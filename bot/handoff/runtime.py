"""Shared handoff objects for one server process (the action runs in the same process)."""
from __future__ import annotations

import datetime as dt
import functools

from bot.handoff.machine import HandoffService
from bot.store import Database


@functools.lru_cache(maxsize=4)
def service_for(database_url: str, callback_ttl_seconds: int) -> HandoffService:
    """One service (one engine) per database URL and call-back TTL, tables created on first use.

    Blocking (engine set-up, DDL): call it before the server starts or from a worker thread.
    """
    db = Database(database_url)
    db.create_tables()
    return HandoffService(db, callback_ttl=dt.timedelta(seconds=callback_ttl_seconds))
