import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot import opening_hours
from bot.catalog import load_catalog
from bot.settings import PROJECT_ROOT

JST = ZoneInfo("Asia/Tokyo")


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(PROJECT_ROOT / "intents")


def at(*args):
    return dt.datetime(*args, tzinfo=JST)


def test_weekday_morning_is_open(catalog):
    current, upcoming = opening_hours.status(catalog.city, catalog.counters["shimin"], at(2026, 11, 24, 10, 0))
    assert current is not None and current.end == at(2026, 11, 24, 17, 15)


def test_after_closing_the_next_opening_is_tomorrow_morning(catalog):
    current, upcoming = opening_hours.status(catalog.city, catalog.counters["zeimu"], at(2026, 11, 24, 17, 15))
    assert current is None and upcoming.start == at(2026, 11, 25, 8, 30)


def test_national_holiday_is_closed(catalog):
    # 2026-11-23 is 勤労感謝の日 (a Monday).
    current, upcoming = opening_hours.status(catalog.city, catalog.counters["shimin"], at(2026, 11, 23, 10, 0))
    assert current is None and upcoming.start == at(2026, 11, 24, 8, 30)


def test_second_and_fourth_saturday_mornings_only_for_shimin(catalog):
    shimin, kodomo = catalog.counters["shimin"], catalog.counters["kodomo"]
    assert opening_hours.is_open(catalog.city, shimin, at(2026, 11, 14, 9, 30))      # 2nd Saturday
    assert opening_hours.is_open(catalog.city, shimin, at(2026, 11, 28, 11, 59))     # 4th Saturday
    assert not opening_hours.is_open(catalog.city, shimin, at(2026, 11, 28, 12, 0))
    assert not opening_hours.is_open(catalog.city, shimin, at(2026, 11, 7, 10, 0))    # 1st Saturday
    assert not opening_hours.is_open(catalog.city, kodomo, at(2026, 11, 14, 9, 30))


def test_year_end_closure_reopens_after_new_year_holidays(catalog):
    current, upcoming = opening_hours.status(catalog.city, catalog.counters["shimin"], at(2026, 12, 29, 10, 0))
    assert current is None
    assert upcoming.start == at(2027, 1, 4, 8, 30)


def test_time_in_another_timezone_is_converted(catalog):
    utc_now = dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.timezone.utc)  # 10:00 in Japan
    assert opening_hours.is_open(catalog.city, catalog.counters["shimin"], utc_now)
