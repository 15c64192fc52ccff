"""Visit slips: a short number and a QR code a resident shows at the counter."""
from __future__ import annotations

import base64
import io
import json
import secrets
from typing import Any, Dict, Optional

import qrcode
from sqlalchemy.exc import IntegrityError

from bot.store import Database
from bot.store.models import VisitSlip

NUMBER_DIGITS = 6


def qr_png_data_url(text: str) -> str:
    image = qrcode.make(text, box_size=6, border=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def qr_text(number: str, content: Dict[str, Any]) -> str:
    """What the QR code carries: the slip number, the procedure and its checklist, readable by
    any phone with no server. Never the resident's own words: anyone who sees or photographs
    the code reads it, so the summary stays in the database for staff (looked up by number)."""
    lines = [f"madoguchi 来庁票 {number}", f"手続き: {content.get('title') or '-'}"]
    lines += [f"□ {item}" for item in content.get("documents", [])]
    lines.append(f"窓口: {content.get('counter') or '-'}")
    return "\n".join(lines)


class Slips:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, conversation_id: str, procedure: Optional[str], language: str, content: Dict[str, Any]) -> str:
        for _ in range(20):  # collisions are rare; retry with a new number
            number = "".join(secrets.choice("0123456789") for _ in range(NUMBER_DIGITS))
            try:
                with self.db.session() as session:
                    session.add(VisitSlip(number=number, conversation_id=conversation_id, procedure=procedure,
                                          language=language, content=json.dumps(content, ensure_ascii=False)))
                return number
            except IntegrityError:
                continue
        raise RuntimeError("could not allocate a visit slip number")

    def lookup(self, number: str) -> Optional[Dict[str, Any]]:
        if not (number.isdigit() and len(number) == NUMBER_DIGITS):
            return None
        with self.db.session() as session:
            slip = session.get(VisitSlip, number)
            if slip is None:
                return None
            return {"number": slip.number, "conversation_id": slip.conversation_id, "procedure": slip.procedure,
                    "language": slip.language, "created_at": slip.created_at.isoformat() + "Z",
                    **json.loads(slip.content)}
