"""The loaded catalog kept on disk by content, so a start, a second replica's start and every test
server read a catalog they have seen in ≈ 0.1 s instead of parsing it again (≈ 3 s of ruamel
round-trip parsing on a quiet core for the sample city with its FAQ, far more on a busy one).

The key is a hash of every file under the catalog folder and of the catalog package's own source,
so an edited file or a changed loader is a new key. Only catalogs that validate are kept. The
folder is the user's own (mode 0700): a pickle is code, so nobody else may write there.
"""
from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
from pathlib import Path
from typing import Optional

from bot.catalog.load import load_catalog as parse_catalog
from bot.catalog.model import Catalog

logger = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parent
# Older entries are removed when a new one is written.
KEEP_ENTRIES = 8


def cache_dir() -> Optional[Path]:
    """MADOGUCHI_CATALOG_CACHE, or a folder of this user's in the temporary directory; None when
    it cannot be made private (then nothing is cached)."""
    configured = os.environ.get("MADOGUCHI_CATALOG_CACHE", "").strip()
    if configured.lower() in ("off", "0", "no", "false"):
        return None
    folder = Path(configured) if configured else Path(tempfile.gettempdir()) / f"madoguchi-catalog-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
        if info.st_uid != os.getuid() or info.st_mode & 0o077:
            logger.warning("catalog cache %s is not private to this user: not used", folder)
            return None
    except OSError:
        return None
    return folder


def content_key(root: Path) -> str:
    digest = hashlib.sha256()
    for source in sorted(PACKAGE.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:32]


def load_catalog(root: Path) -> Catalog:
    """The catalog in `root` (the `intents/` folder), as bot.catalog.load.load_catalog reads it;
    from the cache when these very files were loaded before. Raises CatalogError like it."""
    root = Path(root)
    folder = cache_dir()
    if folder is None:
        return parse_catalog(root)
    key = content_key(root)
    entry = folder / f"{key}.pickle"
    try:
        with open(entry, "rb") as stored:
            catalog = pickle.load(stored)
        if isinstance(catalog, Catalog):
            return catalog
    except FileNotFoundError:
        pass
    except Exception as broken:  # a torn or old entry: parse again and overwrite it
        logger.warning("catalog cache entry %s unreadable (%s): parsing again", entry.name, broken)
    catalog = parse_catalog(root)
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, suffix=".part")
        with os.fdopen(handle, "wb") as out:
            pickle.dump(catalog, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, entry)
        entries = sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP_ENTRIES:]:
            old.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError) as failed:
        logger.warning("catalog cache not written: %s", failed)
    return catalog
