"""Every version of every catalog file the console wrote: the whole file, who, when, why.

Blocking (SQLAlchemy): call from a worker thread. The first edit of a file also records the
file as it was before ("original"), so the very first version can be restored too.
"""
from __future__ import annotations

import hashlib
from typing import Any, Dict, List, Optional

from sqlalchemy import select

from bot.store import Database
from bot.store.models import CatalogVersion


def digest(text: str) -> str:
    """The version a client edits against: changes whenever the file's text does."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CatalogHistory:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, path: str, content: str, author: str, action: str, previous: Optional[str] = None) -> int:
        """Store `content` as the newest version of `path`; `previous` (the text it replaces) is
        stored first as the original when the file has no history yet."""
        with self.db.session() as session:
            known = session.scalar(select(CatalogVersion.id).where(CatalogVersion.path == path).limit(1))
            if known is None and previous is not None:
                session.add(CatalogVersion(path=path, digest=digest(previous), content=previous,
                                           author="(files)", action="original"))
            row = CatalogVersion(path=path, digest=digest(content), content=content, author=author, action=action)
            session.add(row)
            session.flush()
            return int(row.id)

    def versions(self, path: str) -> List[Dict[str, Any]]:
        """Newest first, without the contents."""
        with self.db.session() as session:
            rows = session.scalars(select(CatalogVersion).where(CatalogVersion.path == path)
                                   .order_by(CatalogVersion.id.desc())).all()
            return [{"id": row.id, "author": row.author, "action": row.action, "digest": row.digest,
                     "at": row.created_at.isoformat() + "Z"} for row in rows]

    def get(self, version_id: int) -> Optional[Dict[str, Any]]:
        if not 0 < version_id < 2 ** 63:  # beyond a database integer: no such version (not an overflow)
            return None
        with self.db.session() as session:
            row = session.get(CatalogVersion, version_id)
            if row is None:
                return None
            return {"id": row.id, "path": row.path, "content": row.content, "author": row.author,
                    "action": row.action, "at": row.created_at.isoformat() + "Z"}
