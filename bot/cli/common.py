"""What several commands share: who runs them, the model registry, the audit log, progress lines."""
from __future__ import annotations

import getpass
import json
import os
import time
from typing import Any, Dict, Optional

from bot.settings import Settings


def report_pruned(paths) -> None:
    for path in paths:
        print(f"removed old model file {path.name} (older than the models that can still be published)")


def operator() -> str:
    """Who runs the command, for the registry and the audit log (`cli:<login>`)."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name (some containers)
        return "cli"


def model_registry(settings: Settings):
    from bot.admin.models import ModelRegistry
    from bot.store import Database

    db = Database(settings.tracker_database_url)
    db.upgrade_schema()
    return ModelRegistry(db)


def audit(settings: Settings, action: str, detail: Dict[str, Any], actor: Optional[str] = None) -> None:
    from bot.staff.audit import AuditLog

    AuditLog(model_registry(settings).db).record(actor or operator(), action, None, detail)


def quiet_rasa(settings: Settings) -> None:
    """Rasa logs every parsed sentence at debug level: an evaluation would print hundreds."""
    from bot.server import configure_logging

    configure_logging(os.environ.get("MADOGUCHI_LOG_LEVEL", "WARNING"), settings)


class ProgressPrinter:
    """Progress of long work: JSON lines for the admin console's job (--progress-json), or a
    line every few seconds for a person at a terminal."""

    PREFIX = "@progress "

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.last_print = 0.0
        self.started = time.monotonic()

    def __call__(self, event: Dict[str, Any]) -> None:
        if self.as_json:
            print(self.PREFIX + json.dumps(event), flush=True)
            return
        now = time.monotonic()
        phase, epoch, epochs = event.get("phase"), event.get("epoch"), event.get("epochs")
        final = (epoch is not None and epoch == epochs) or (event.get("done") == event.get("total"))
        if now - self.last_print < 5 and not final:
            return
        self.last_print = now
        if phase == "training" and epochs:
            print(f"  training: epoch {epoch}/{epochs} ({now - self.started:.0f} s)", flush=True)
        elif phase == "evaluating" and event.get("total"):
            print(f"  evaluating: {event['done']}/{event['total']} held-out sentences", flush=True)
        elif phase:
            print(f"  {phase} …", flush=True)
