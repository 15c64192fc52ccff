"""Which procedures are past their review-by date, grouped by the team that owns them.

Shared by the admin console's freshness panel and `madoguchi catalog stale`, so both list
the same entries in the same order.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Dict, List, Tuple

from bot.catalog.model import Catalog, Procedure


@dataclass(frozen=True)
class StaleEntry:
    procedure: Procedure
    days_overdue: int  # 0 on the review-by day itself


def stale_procedures(catalog: Catalog, today: dt.date) -> List[Tuple[str, List[StaleEntry]]]:
    """(owner, entries) for every owner with an entry due (review_by on or before `today`);
    owners by name, entries most overdue first."""
    by_owner: Dict[str, List[StaleEntry]] = {}
    for procedure in catalog.procedures.values():
        if procedure.review_by <= today:
            entry = StaleEntry(procedure, (today - procedure.review_by).days)
            by_owner.setdefault(procedure.owner, []).append(entry)
    return [(owner, sorted(entries, key=lambda e: (-e.days_overdue, e.procedure.id)))
            for owner, entries in sorted(by_owner.items())]
