"""One catalog provider, one reload policy: reload when a file changed, checked at most every N seconds."""
import asyncio
import os
import shutil

from bot.catalog.provider import CatalogProvider
from bot.settings import PROJECT_ROOT


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def edited_catalog(tmp_path):
    source = tmp_path / "intents"
    shutil.copytree(PROJECT_ROOT / "intents", source)
    return source, source / "city.yml"


def touch_with(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a later mtime, whatever the clock


def test_an_edit_shows_after_the_check_interval_and_not_before(tmp_path):
    source, city = edited_catalog(tmp_path)
    clock = FakeMonotonic()
    catalogs = CatalogProvider(source, check_seconds=5, monotonic=clock)
    first = catalogs.get()
    phone = first.counters["shimin"].phone
    touch_with(city, phone, "0120-999-999")
    assert catalogs.get() is first  # within the interval: no disk access at all
    clock.now += 5
    assert catalogs.get().counters["shimin"].phone == "0120-999-999"


def test_unchanged_files_keep_the_loaded_catalog(tmp_path):
    source, _ = edited_catalog(tmp_path)
    clock = FakeMonotonic()
    catalogs = CatalogProvider(source, check_seconds=1, monotonic=clock)
    first = catalogs.get()
    clock.now += 10
    assert catalogs.get() is first


def test_an_invalid_edit_keeps_the_last_good_catalog(tmp_path):
    source, _ = edited_catalog(tmp_path)
    clock = FakeMonotonic()
    catalogs = CatalogProvider(source, check_seconds=1, monotonic=clock)
    first = catalogs.get()
    touch_with(source / "procedures" / "mynumber_lost.yml", "section: shimin", "section: nowhere")
    clock.now += 1
    assert catalogs.get() is first


def test_async_callers_get_the_same_catalog(tmp_path):
    source, _ = edited_catalog(tmp_path)
    catalogs = CatalogProvider(source)
    assert asyncio.run(catalogs.current()) is catalogs.get()
