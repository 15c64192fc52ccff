"""Audit log: who read or wrote which conversation or catalog entry, and when."""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

from sqlalchemy import select

from bot.redaction import redact_metadata, scrub
from bot.store import Database
from bot.store.models import AuditEntry


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, actor: str, action: str, conversation_id: Optional[str] = None,
               detail: Optional[Dict[str, Any]] = None) -> None:
        # The actor of a failed login is whatever was typed as a username, and a detail may hold a
        # clerk's note: neither may keep an individual number or PIN.
        detail = redact_metadata(detail)[0] if detail else None
        with self.db.session() as session:
            session.add(AuditEntry(actor=scrub(actor), action=action, conversation_id=conversation_id,
                                   detail=json.dumps(detail, ensure_ascii=False) if detail else None))

    def entries(self, conversation_id: Optional[str] = None, limit: int = 200) -> List[Dict[str, Any]]:
        with self.db.session() as session:
            query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
            if conversation_id:
                query = query.where(AuditEntry.conversation_id == conversation_id)
            return [{"at": row.at.isoformat() + "Z", "actor": row.actor, "action": row.action,
                     "conversation_id": row.conversation_id,
                     "detail": json.loads(row.detail) if row.detail else None}
                    for row in session.scalars(query)]
