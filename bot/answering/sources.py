"""The knowledge of the catalog being served (FAQ, procedures' phrasings, sections), built off
the event loop and again when an administrator's edit changes the catalog."""
from __future__ import annotations

import asyncio
from typing import Any, Dict, Optional, Tuple

from bot.answering.source import Choice, Knowledge, choose
from bot.catalog.model import Catalog


class AnswerSources:
    def __init__(self) -> None:
        self._built: Optional[Tuple[Catalog, Knowledge]] = None

    async def knowledge(self, catalog: Catalog) -> Knowledge:
        built = self._built
        if built is None or built[0] is not catalog:
            built = self._built = (catalog, await asyncio.to_thread(Knowledge.of, catalog))
        return built[1]

    async def choose(self, catalog: Catalog, parse: Dict[str, Any], in_context: Optional[str] = None) -> Choice:
        return choose(catalog, await self.knowledge(catalog), parse, in_context)
