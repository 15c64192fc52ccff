"""Editing a copy of the catalog in a test, and reading what the loader says of it."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.catalog import CatalogError, load_catalog


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not found")


def problems(catalog_dir: Path):
    with pytest.raises(CatalogError) as info:
        load_catalog(catalog_dir)
    return info.value.problems
