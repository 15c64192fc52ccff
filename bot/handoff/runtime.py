"""Shared handoff objects for one server process (the action runs in the same process)."""
from __future__ import annotations

import functools

from bot.handoff.machine import HandoffService
from bot.store import Database


@functools.lru_cache(maxsize=4)
def service_for(database_url: str) -> HandoffService:
    """One service (one engine) per database URL, tables created on first use."""
    db = Database(database_url)
    db.create_tables()
    return HandoffService(db)
