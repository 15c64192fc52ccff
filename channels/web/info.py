"""`GET /info`: the counter's name, address, hours and phone in ja/en/easy, and the kiosk settings.

Recomputed once a minute (the clock is bot/clock.py's, so MADOGUCHI_FAKE_NOW applies),
since "open now / next opening" changes with the time of day.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

from bot import calendar, clock
from bot.actions.replies import DEFAULT_COUNTER, ReplyBuilder

LANGUAGES = ("ja", "en", "easy")


class CatalogFiles:
    """The catalog, loaded again only when one of its files changed (loading takes ~1 s)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._catalog: Any = None
        self._signature: Optional[tuple] = None

    def __call__(self) -> Any:
        from bot.catalog import load_catalog

        signature = tuple(sorted((str(p), p.stat().st_mtime_ns) for p in self.directory.rglob("*.yml")))
        if self._catalog is None or signature != self._signature:
            self._catalog, self._signature = load_catalog(self.directory), signature
        return self._catalog


def kiosk_settings(settings: Any) -> Dict[str, Any]:
    return {"enabled": bool(settings.kiosk), "idle_seconds": int(settings.kiosk_idle_seconds),
            "countdown_seconds": int(settings.kiosk_countdown_seconds)}


class CounterInfo:
    """The body of `GET /info`, kept for the minute it was made in."""

    def __init__(self, catalog: CatalogFiles, max_chars: int) -> None:
        self.catalog = catalog
        self.max_chars = max_chars
        self._info: Optional[Dict[str, Any]] = None
        self._minute: Optional[str] = None

    def __call__(self, settings: Any) -> Dict[str, Any]:
        """Where, when and how to reach the counter, in the three languages (blocking: the catalog's files)."""
        now = clock.now()
        minute = now.strftime("%Y-%m-%dT%H:%M")
        if self._info is not None and self._minute == minute:
            return self._info
        catalog = self.catalog()
        counter = catalog.counters.get(DEFAULT_COUNTER) or next(iter(catalog.counters.values()))
        current, upcoming = calendar.status(catalog.city, counter, now)
        texts: Dict[str, Dict[str, Any]] = {}
        for language in LANGUAGES:
            builder = ReplyBuilder(catalog, language, now)
            if current is not None:
                status = builder.phrase("open_now", close=current.end.strftime("%H:%M"))
            elif upcoming is not None:
                status = builder.phrase("closed_now", next=builder.format_when(upcoming.start))
            else:
                status = ""
            texts[language] = {
                "city": catalog.city.name.get(language),
                "counter": counter.name.get(language),
                "place": counter.place.get(language),
                "address": catalog.city.address.get(language),
                "access": catalog.city.access.get(language),
                "hours": builder.hours_text(counter),
                "closed_days": builder.phrase("closed_days"),
                "status": status,
                "human": builder.phrase("label_human"),
                "staff": builder.phrase("staff_label") if "staff_label" in catalog.phrases else "",
            }
        self._info = {"phone": counter.phone, "open": current is not None, "max_chars": self.max_chars,
                      "texts": texts, "kiosk": kiosk_settings(settings)}
        self._minute = minute
        return self._info
