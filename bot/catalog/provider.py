"""The catalog for a running server: one instance, one reload policy.

An administrator edits intents/ while the server runs; the answers, the staff console and
the web page's counter information must all show the edit, and show the same version. So
one `CatalogProvider` is built with the server (`app.ctx.catalogs`) and handed to everyone
who reads the catalog.

Policy: loaded on first use; afterwards, at most every `check_seconds`, the modification
times of the catalog's files are compared with those of the loaded version, and the catalog
is loaded again when one changed, appeared or went. An edit that does not validate is
logged and the last good catalog stays in service. Stat-ing the files and loading (~1 s)
touch the disk, so async callers `await current()`, which does that work in a worker thread.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import Callable, Optional, Tuple

from bot.catalog.cache import load_catalog
from bot.catalog.load import CatalogError
from bot.catalog.model import Catalog

logger = logging.getLogger(__name__)

Signature = Tuple[Tuple[str, int], ...]


def files_signature(directory: Path) -> Signature:
    """(path, modification time) of every catalog file, sorted: changes when any file does."""
    return tuple(sorted((str(path), path.stat().st_mtime_ns) for path in Path(directory).rglob("*.yml")))


class CatalogProvider:
    def __init__(self, directory: Path, check_seconds: float = 2.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.directory = Path(directory)
        self.check_seconds = check_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._catalog: Optional[Catalog] = None
        self._signature: Signature = ()
        self._next_check = 0.0

    def _fresh(self) -> Optional[Catalog]:
        """The loaded catalog when no check is due yet, else None."""
        if self._catalog is not None and self._monotonic() < self._next_check:
            return self._catalog
        return None

    def get(self) -> Catalog:
        """The current catalog (blocking when a check is due: worker threads and CLI tools)."""
        with self._lock:
            catalog = self._fresh()
            if catalog is not None:
                return catalog
            signature = files_signature(self.directory)
            catalog = self._catalog
            if catalog is None:
                catalog = load_catalog(self.directory)  # the first load must succeed
            elif signature != self._signature:
                try:
                    catalog = load_catalog(self.directory)
                except CatalogError as error:
                    logger.warning("catalog edit not loaded (%d problem(s)); the previous version stays in "
                                   "service:\n%s", len(error.problems), error)
            self._catalog, self._signature = catalog, signature
            self._next_check = self._monotonic() + self.check_seconds
            return catalog

    async def current(self) -> Catalog:
        """The current catalog, checking the files in a worker thread when a check is due."""
        catalog = self._fresh()
        return catalog if catalog is not None else await asyncio.to_thread(self.get)
