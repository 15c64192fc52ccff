"""Shared handoff objects for one server process (the action runs in the same process)."""
from __future__ import annotations

import datetime as dt
import functools

from bot.handoff.machine import HandoffService
from bot.settings import Settings
from bot.store import Database


@functools.lru_cache(maxsize=4)
def service_for(database_url: str) -> HandoffService:
    """One service (one engine) per database URL, tables created on first use.

    Blocking (engine set-up, DDL): call it before the server starts or from a worker thread.
    """
    db = Database(database_url)
    db.create_tables()
    ttl = dt.timedelta(seconds=Settings.from_env().callback_ttl_seconds)
    return HandoffService(db, callback_ttl=ttl)
