"""The current time. `MADOGUCHI_FAKE_NOW` (ISO 8601) starts the clock at a fixed moment
and lets it run from there: tests use it to be on a known counter day at any real hour."""
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
