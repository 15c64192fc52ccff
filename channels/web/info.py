"""`GET /info`: the counter's name, address, hours and phone in ja/en/easy, and the kiosk settings.

Recomputed once a minute (the clock is bot/clock.py's, so MADOGUCHI_FAKE_NOW applies),
since "open now / next opening" changes with the time of day.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from bot import clock, opening_hours
from bot.catalog.provider import CatalogProvider
from bot.replies import ReplyBuilder
from bot.text import LANGUAGES


def kiosk_settings(settings: Any) -> Dict[str, Any]:
    return {"enabled": bool(settings.kiosk), "idle_seconds": int(settings.kiosk_idle_seconds),
            "countdown_seconds": int(settings.kiosk_countdown_seconds)}


class CounterInfo:
    """The body of `GET /info`, kept for the minute it was made in."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self._info: Optional[Dict[str, Any]] = None
        self._minute: Optional[str] = None

    def __call__(self, catalogs: CatalogProvider, settings: Any) -> Dict[str, Any]:
        """Where, when and how to reach the counter, in the three languages.

        Blocking (the catalog may be read from its files): run it in a worker thread.
        """
        now = clock.now()
        minute = now.strftime("%Y-%m-%dT%H:%M")
        if self._info is not None and self._minute == minute:
            return self._info
        catalog = catalogs.get()
        counter = catalog.counter_for(None)  # the general counter
        current, upcoming = opening_hours.status(catalog.city, counter, now)
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
