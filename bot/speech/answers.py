"""Every answer the catalog can give, as text: what pre-synthesis speaks and the tests read."""
from __future__ import annotations

import datetime as dt
from typing import Iterator, List, Optional, Sequence, Tuple

from bot.catalog.model import Catalog
from bot.replies import ASPECTS, REMOTE_WAYS, Question, ReplyBuilder

SPOKEN_LANGUAGES: Tuple[str, ...] = ("ja", "easy")


def catalog_answers(catalog: Catalog, languages: Sequence[str] = SPOKEN_LANGUAGES,
                    now: Optional[dt.datetime] = None) -> List[Tuple[str, str]]:
    """(language, text) of every procedure's summary and aspects (and the はい／いいえ answers to
    「…でできますか」 for each way), every life-event checklist and every fixed conversation reply,
    without duplicates, in catalog order. Each answer begins with its lead sentence."""
    seen = set()
    answers = []
    for language in languages:
        for text in _texts(ReplyBuilder(catalog, language, now)):
            if text and (language, text) not in seen:
                seen.add((language, text))
                answers.append((language, text))
    return answers


def _texts(builder: ReplyBuilder) -> Iterator[str]:
    catalog = builder.catalog
    for procedure in catalog.procedures.values():
        for reply in builder.procedure_summary(procedure, pin_topic=False):
            yield reply.text()
        if procedure.human_only:
            continue
        for aspect in ASPECTS:
            for reply in builder.aspect(procedure, aspect):
                yield reply.text()
        for way in REMOTE_WAYS:
            for reply in builder.aspect(procedure, "online", Question(yes_no=True, way=way)):
                yield reply.text()
    for event_id in catalog.life_events:
        for reply in builder.checklist(event_id):
            yield reply.text()
    for intent in catalog.conversation:
        for reply in builder.fixed(intent):
            yield reply.text()
    yield builder.human_contact().text()
    yield builder.fallback_human().text()
