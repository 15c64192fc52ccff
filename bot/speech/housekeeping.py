"""Speech cache housekeeping: audio nobody will ask for again is deleted.

A catalog edit changes answers, and so the hashes of their audio: the old files stay in
var/speech/ for ever unless something removes them. A file goes when no answer of the current
catalog uses it (in any engine, format or speed) and it has not been touched for
`max_age_days` (a cache hit touches its file, at most once a day); so a phone prompt or a
dialogue reply that is still spoken keeps its file, and one spoken no more is gone a month
later. Leftovers of an interrupted synthesis (hidden temporary files) go after the same time.
All file work happens in a worker thread.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Callable, List, Set

from bot.catalog.model import Catalog
from bot.speech.answers import catalog_answers
from bot.speech.reading import for_the_ear
from bot.speech.service import SpeechService

logger = logging.getLogger(__name__)

DAY_SECONDS = 86400.0
CACHE_SUFFIXES = (".wav", ".mp3", ".json")


def old_files(cache_dir: Path, cutoff: float) -> List[Path]:
    """Files of the cache last modified before `cutoff` (seconds since the epoch)."""
    if not cache_dir.is_dir():
        return []
    found = []
    for path in cache_dir.iterdir():
        with contextlib.suppress(FileNotFoundError):  # another process may be replacing it
            if path.is_file() and path.stat().st_mtime < cutoff:
                found.append(path)
    return found


def catalog_keys(speech: SpeechService, catalog: Catalog) -> Set[str]:
    """The cache keys of every catalog answer, for every engine the service may use, for the
    phone and the web, at both speeds (what a resident may still ask for)."""
    keys = set()
    for language, text in catalog_answers(catalog):
        reading = for_the_ear(text, language)
        for engine in (speech.gtts, speech.openjtalk):
            for phone in (True, False):
                for slow in (False, True):
                    keys.add(speech.key(engine, reading, language, slow, phone))
    return keys


def delete_files(paths: List[Path]) -> int:
    count = 0
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            count += 1
    return count


async def prune_cache(speech: SpeechService, catalog: Catalog, max_age_days: int,
                      clock: Callable[[], float] = time.time) -> int:
    """Delete the cache files the catalog does not use and nobody touched for `max_age_days`;
    returns how many were deleted."""
    if max_age_days <= 0:
        return 0
    old = await asyncio.to_thread(old_files, speech.cache_dir, clock() - max_age_days * DAY_SECONDS)
    if not old:
        return 0  # the usual case: no need to work out the catalog's keys
    keep = await asyncio.to_thread(catalog_keys, speech, catalog)
    doomed = [path for path in old
              if path.name.startswith(".") or path.suffix not in CACHE_SUFFIXES or path.stem not in keep]
    deleted = await asyncio.to_thread(delete_files, doomed)
    if deleted:
        logger.info("speech: deleted %d cache files unused for %d days", deleted, max_age_days)
    return deleted
