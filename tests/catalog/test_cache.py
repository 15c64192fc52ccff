"""bot/catalog/cache.py: a catalog loaded once is read back without parsing, an edited file is
parsed again, a broken entry is replaced, an invalid catalog is never kept, and a folder others
may write to is not used."""
import os
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
def parses(monkeypatch, tmp_path: Path):
    """Counts the real parses; the cache lives in a private folder of this test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("MADOGUCHI_CATALOG_CACHE", str(folder))
    calls = []
    real = cache.parse_catalog

    def counting(root):
        calls.append(root)
        return real(root)

    monkeypatch.setattr(cache, "parse_catalog", counting)
    return calls


def test_a_catalog_seen_before_is_not_parsed_again(catalog_copy: Path, parses):
    first = cache.load_catalog(catalog_copy)
    second = cache.load_catalog(catalog_copy)
    assert len(parses) == 1
    assert second is not first  # a copy: nobody shares a mutable catalog by accident
    assert second.procedures.keys() == first.procedures.keys() and second.faq == first.faq
    assert second.phrase("phone_goodbye", "ja") == first.phrase("phone_goodbye", "ja")


def test_an_edited_file_is_parsed_again(catalog_copy: Path, parses):
    cache.load_catalog(catalog_copy)
    city = catalog_copy / "city.yml"
    city.write_text(city.read_text(encoding="utf-8").replace("サンプル市", "テスト市", 1), encoding="utf-8")
    edited = cache.load_catalog(catalog_copy)
    assert len(parses) == 2 and edited.city.name.ja == "テスト市"


def test_a_broken_entry_is_parsed_again_and_replaced(catalog_copy: Path, parses):
    cache.load_catalog(catalog_copy)
    [entry] = list(Path(os.environ["MADOGUCHI_CATALOG_CACHE"]).glob("*.pickle"))
    entry.write_bytes(b"not a pickle")
    assert cache.load_catalog(catalog_copy).procedures
    assert len(parses) == 2 and entry.read_bytes() != b"not a pickle"


def test_an_invalid_catalog_is_refused_every_time_and_never_kept(catalog_copy: Path, parses):
    (catalog_copy / "city.yml").write_text("city: [unclosed\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(CatalogError):
            cache.load_catalog(catalog_copy)
    assert len(parses) == 2
    assert not list(Path(os.environ["MADOGUCHI_CATALOG_CACHE"]).glob("*.pickle"))


def test_a_folder_others_may_write_to_is_not_used(catalog_copy: Path, parses, monkeypatch, tmp_path: Path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    monkeypatch.setenv("MADOGUCHI_CATALOG_CACHE", str(shared))
    cache.load_catalog(catalog_copy)
    cache.load_catalog(catalog_copy)
    assert len(parses) == 2 and not list(shared.iterdir())
