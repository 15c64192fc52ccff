"""`madoguchi openapi`: both JSON APIs' OpenAPI documents, generated from their routes and declared
bodies (bot/apidoc.py) and written beside them: bot/staff/openapi.json, bot/admin/openapi.json."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

from bot.settings import Settings

Generated = Tuple[Path, Callable[[], Dict[str, Any]]]


def documents() -> List[Generated]:
    """(where the document is committed, how to generate it) of each API."""
    from bot.admin.openapi import ADMIN_API, admin_api_blueprints
    from bot.admin.openapi import OPENAPI_PATH as ADMIN_OPENAPI
    from bot.apidoc import openapi_document
    from bot.staff.api import OPENAPI_PATH as STAFF_OPENAPI
    from bot.staff.api import STAFF_API, staff_blueprint

    return [(STAFF_OPENAPI, lambda: openapi_document(STAFF_API, [staff_blueprint()])),
            (ADMIN_OPENAPI, lambda: openapi_document(ADMIN_API, admin_api_blueprints()))]


def document_text(document: Dict[str, Any]) -> str:
    """The committed form: two-space indents, Japanese as written, a final newline."""
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def cmd_openapi(settings: Settings, args) -> int:
    """Write the documents (or, with --check, only say which differ from the generated ones: exit 1)."""
    stale = []
    for path, generate in documents():
        text = document_text(generate())
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            print(f"{path}: up to date")
        elif args.check:
            stale.append(path)
            print(f"{path}: differs from the routes and bodies; run madoguchi openapi", file=sys.stderr)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"{path}: written")
    return 1 if stale else 0


def add_openapi_command(sub) -> None:
    openapi = sub.add_parser("openapi", help="generate the staff and admin APIs' OpenAPI documents from their "
                                             "routes and declared bodies")
    openapi.add_argument("--check", action="store_true", help="write nothing; exit 1 when a document is stale")
