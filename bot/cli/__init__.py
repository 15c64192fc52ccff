"""The `madoguchi` command (`python -m bot.cli …`): one module per command group, as `rasa/cli/`.

- `catalog.py`: `catalog validate|stale|export|import` (and the group's parser), `check`, `compile`
- `models.py`: `train`, `catalog train|evaluate|publish|rollback|history`
- `faq.py`: `faq import`;  `db.py`: `db upgrade|current|history|revision`
- `serve.py`: `serve`;  `staff.py`: `staff add`;  `purge.py`: `purge`
- `openapi.py`: `openapi` (the staff and admin APIs' documents, generated from their routes)
- `common.py`: what several share (the operator's name, the model registry, the audit log, progress)

Each module adds its parsers (`add_…`) and holds its handlers (`cmd_…`); `main` puts them together.
"""
from __future__ import annotations

import argparse
import os
from typing import List, Optional

from bot.cli.catalog import add_catalog_commands, add_check_commands, cmd_catalog, cmd_check, cmd_compile
from bot.cli.db import add_db_commands, cmd_db
from bot.cli.faq import add_faq_commands, cmd_faq_import
from bot.cli.models import add_train_command, cmd_train
from bot.cli.openapi import add_openapi_command, cmd_openapi
from bot.cli.purge import add_purge_command, cmd_purge
from bot.cli.serve import add_serve_command, cmd_serve
from bot.cli.staff import add_staff_commands, cmd_staff_add
from bot.settings import Settings

__all__ = ["main"]


def main(argv: Optional[List[str]] = None) -> int:
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    parser = argparse.ArgumentParser(prog="madoguchi", description="madoguchi service-desk assistant")
    sub = parser.add_subparsers(dest="command", required=True)
    add_catalog_commands(sub)
    add_db_commands(sub)
    add_faq_commands(sub)
    add_check_commands(sub)
    add_train_command(sub)
    add_serve_command(sub)
    add_staff_commands(sub)
    add_purge_command(sub)
    add_openapi_command(sub)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    handler = {"catalog": cmd_catalog, "db": cmd_db, "faq": cmd_faq_import, "check": cmd_check,
               "compile": cmd_compile, "train": cmd_train, "serve": cmd_serve, "staff": cmd_staff_add,
               "purge": cmd_purge, "openapi": cmd_openapi}[args.command]
    return handler(settings, args)
