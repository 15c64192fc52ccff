"""The FAQ index and the section directory of the catalog being served, built off the event loop."""
from __future__ import annotations

import asyncio
from typing import Any, Dict, Optional, Tuple

from bot.answering.directory import SectionDirectory
from bot.answering.retrieval import FaqIndex
from bot.answering.source import Choice, choose
from bot.catalog.model import Catalog


class AnswerSources:
    """Rebuilt when the catalog object changes (an administrator's edit); ≈1 s, in a worker thread."""

    def __init__(self) -> None:
        self._built: Optional[Tuple[Catalog, FaqIndex, SectionDirectory]] = None

    @staticmethod
    def build(catalog: Catalog) -> Tuple[Catalog, FaqIndex, SectionDirectory]:
        return catalog, FaqIndex(list(catalog.faq.values())), SectionDirectory(catalog)

    async def for_catalog(self, catalog: Catalog) -> Tuple[FaqIndex, SectionDirectory]:
        built = self._built
        if built is None or built[0] is not catalog:
            built = self._built = await asyncio.to_thread(self.build, catalog)
        return built[1], built[2]

    async def choose(self, catalog: Catalog, parse: Dict[str, Any]) -> Choice:
        faq, directory = await self.for_catalog(catalog)
        return choose(catalog, faq, directory, parse)
