"""bot/catalog/cache.py: a catalog loaded once is read back without parsing, an edited file is
parsed again, a broken entry is replaced, an invalid catalog is never kept, and a folder others
may write to is not used."""
import shutil
from pathlib import Path

import pytest

from bot.catalog import CatalogError, cache
from bot.settings import PROJECT_ROOT


@pytest.fixture()
def catalog_copy(tmp_path: Path) -> Path:
    root = tmp_path / "intents"
    shutil.copytree(PROJECT_ROOT / "intents", root)
    return root


@pytest.fixture()
def folder(monkeypatch, tmp_path: Path) -> Path:
    """A private cache folder of this test. A parse writes its entry anew (a new file put in place),
    a cache hit only reads it: the entries' identities show which happened."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("MADOGUCHI_CATALOG_CACHE", str(folder))
    return folder


def entries(folder: Path):
    return {path.name: (path.stat().st_ino, path.stat().st_mtime_ns) for path in folder.glob("*.pickle")}


def test_a_catalog_seen_before_is_not_parsed_again(catalog_copy: Path, folder: Path):
    first = cache.load_catalog(catalog_copy)
    written = entries(folder)
    second = cache.load_catalog(catalog_copy)
    assert len(written) == 1 and entries(folder) == written  # read back, not parsed and written again
    assert second is not first  # a copy: nobody shares a mutable catalog by accident
    assert second.procedures.keys() == first.procedures.keys() and second.faq == first.faq
    assert second.phrase("phone_goodbye", "ja") == first.phrase("phone_goodbye", "ja")


def test_an_edited_file_is_parsed_again(catalog_copy: Path, folder: Path):
    cache.load_catalog(catalog_copy)
    city = catalog_copy / "city.yml"
    city.write_text(city.read_text(encoding="utf-8").replace("サンプル市", "テスト市", 1), encoding="utf-8")
    edited = cache.load_catalog(catalog_copy)
    assert len(entries(folder)) == 2 and edited.city.name.ja == "テスト市"


def test_a_broken_entry_is_parsed_again_and_replaced(catalog_copy: Path, folder: Path):
    cache.load_catalog(catalog_copy)
    [entry] = list(folder.glob("*.pickle"))
    entry.write_bytes(b"not a pickle")
    assert cache.load_catalog(catalog_copy).procedures
    assert entry.read_bytes() != b"not a pickle"


def test_an_invalid_catalog_is_refused_every_time_and_never_kept(catalog_copy: Path, folder: Path):
    (catalog_copy / "city.yml").write_text("city: [unclosed\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(CatalogError):
            cache.load_catalog(catalog_copy)
    assert not list(folder.glob("*.pickle"))


def test_a_folder_others_may_write_to_is_not_used(catalog_copy: Path, monkeypatch, tmp_path: Path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    monkeypatch.setenv("MADOGUCHI_CATALOG_CACHE", str(shared))
    assert cache.load_catalog(catalog_copy).procedures
    assert not list(shared.iterdir())
