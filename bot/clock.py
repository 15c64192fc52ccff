"""The current time: every module asks here, never `datetime.now()`.

`MADOGUCHI_FAKE_NOW` (ISO 8601) starts `now()` at a fixed moment and lets it run from there:
tests use it to be on a known counter day at any real hour. Stored timestamps use
`real_utcnow()`, which is never faked: the database compares them with its own clock
(SQLite `datetime('now')`) and Rasa stamps its events with the real time."""
from __future__ import annotations

import datetime as dt
import os
import time

_STARTED = time.monotonic()


def now() -> dt.datetime:
    fake = os.environ.get("MADOGUCHI_FAKE_NOW")
    if fake:
        start = dt.datetime.fromisoformat(fake)
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.timezone.utc)
        return start + dt.timedelta(seconds=time.monotonic() - _STARTED)
    return dt.datetime.now(dt.timezone.utc)


def real_utcnow() -> dt.datetime:
    """The real time in UTC without tzinfo, as the database stores timestamps."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
