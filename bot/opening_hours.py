"""Counter opening hours: is a counter open now, and when does it next open?

Knows weekdays, the nth-Saturday rule, national holidays (jpholiday) and the
year-end closure from city.yml.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable, Optional, Tuple
from zoneinfo import ZoneInfo

import jpholiday

from bot.catalog.model import City, Counter, HoursRule


@dataclass(frozen=True)
class Opening:
    start: dt.datetime
    end: dt.datetime
    rule: HoursRule


def is_closed_day(city: City, day: dt.date) -> bool:
    return jpholiday.is_holiday(day) or day.strftime("%m-%d") in city.year_end_closure


def nth_weekday_of_month(day: dt.date) -> int:
    return (day.day - 1) // 7 + 1


def openings_on(city: City, counter: Counter, day: dt.date, tz: ZoneInfo) -> Iterable[Opening]:
    if is_closed_day(city, day):
        return []
    result = []
    for rule in counter.hours:
        if day.weekday() not in rule.weekdays:
            continue
        if rule.saturdays_of_month and nth_weekday_of_month(day) not in rule.saturdays_of_month:
            continue
        start = dt.datetime.combine(day, rule.open, tz)
        end = dt.datetime.combine(day, rule.close, tz)
        result.append(Opening(start, end, rule))
    return sorted(result, key=lambda o: o.start)


def status(city: City, counter: Counter, now: dt.datetime) -> Tuple[Optional[Opening], Optional[Opening]]:
    """(the opening in progress or None, the next opening after now or None within 60 days)."""
    tz = ZoneInfo(city.timezone)
    now = now.astimezone(tz)
    current = None
    for offset in range(0, 60):
        day = now.date() + dt.timedelta(days=offset)
        for opening in openings_on(city, counter, day, tz):
            if opening.start <= now < opening.end:
                current = opening
            elif opening.start > now:
                return current, opening
    return current, None


def is_open(city: City, counter: Counter, now: dt.datetime) -> bool:
    return status(city, counter, now)[0] is not None
