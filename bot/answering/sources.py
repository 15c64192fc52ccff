"""The knowledge of the catalog being served (FAQ, procedures' phrasings, sections), built off
the event loop: at start, and again in the background when an administrator's edit changes the
catalog (turns meanwhile use the knowledge of the catalog before the edit; ≈5 s)."""
from __future__ import annotations

import asyncio
from typing import Any, Dict, Optional, Tuple

from bot.answering.source import Choice, Knowledge, choose
from bot.catalog.model import Catalog


class AnswerSources:
    def __init__(self) -> None:
        self._built: Optional[Tuple[Catalog, Knowledge]] = None
        self._building: Optional[Tuple[Catalog, "asyncio.Task[Knowledge]"]] = None

    async def knowledge(self, catalog: Catalog) -> Knowledge:
        built = self._built
        if built is not None and built[0] is catalog:
            return built[1]
        if self._building is None or self._building[0] is not catalog:
            self._building = (catalog, asyncio.ensure_future(asyncio.to_thread(Knowledge.of, catalog)))
        task = self._building[1]
        if built is not None and not task.done():
            return built[1]  # the edit's knowledge is on its way; answer with the last one meanwhile
        knowledge = await task
        self._built, self._building = (catalog, knowledge), None
        return knowledge

    async def choose(self, catalog: Catalog, parse: Dict[str, Any], in_context: Optional[str] = None) -> Choice:
        return choose(catalog, await self.knowledge(catalog), parse, in_context)
