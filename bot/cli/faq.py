"""`madoguchi faq import`: the city's FAQ export into intents/faq/."""
from __future__ import annotations

import sys
from pathlib import Path

from bot.cli.common import audit
from bot.settings import Settings


def cmd_faq_import(settings: Settings, args) -> int:
    """`madoguchi faq import FILE`: what a city's FAQ export (CSV/JSON) changes in intents/faq/,
    every problem it would bring; written with --apply only when the merged catalog validates."""
    from bot.catalog import faq_import

    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as error:
        print(f"error: cannot read {path}: {error.strerror}", file=sys.stderr)
        return 1
    try:
        plan = faq_import.plan_faq_import(data, path.name, settings.catalog_dir,
                                          faq_import.parse_mapping(args.mapping), args.category, args.section)
    except faq_import.FaqImportError as reason:
        print(f"error: {reason}", file=sys.stderr)
        print("nothing written", file=sys.stderr)
        return 1
    for line in plan.describe():
        print(line)
    if plan.problems:
        print("nothing written: fix the file (or the mapping) and import again", file=sys.stderr)
        return 1
    if not plan.files:
        print("nothing to change")
        return 0
    if not args.apply:
        print(f"nothing written: run again with --apply to write {len(plan.files)} file(s) into {settings.catalog_dir}")
        return 0
    written = faq_import.apply_faq_import(plan, settings.catalog_dir)
    audit(settings, "faq.import", {"file": path.name, **plan.counts(),
                                   "files": sorted(plan.files)})
    print(f"wrote {len(written)} file(s); the catalog validates. Train and publish so that the answers use them.")
    return 0


def add_faq_commands(sub) -> None:
    faq = sub.add_parser("faq", help="the city's FAQ (intents/faq/): import a CSV/JSON export")
    commands = faq.add_subparsers(dest="faq_command", required=True)
    imported = commands.add_parser(
        "import", help="show what a city's FAQ export (CSV in UTF-8 or Shift_JIS, or JSON) changes; write with --apply")
    imported.add_argument("file", help="the export: CSV (a header row) or JSON (a list of objects or {\"faq\": [...]})")
    imported.add_argument("--mapping", help="field=column pairs, e.g. question=質問,answer=回答,category=分類,"
                                            "section=担当課,url=URL,updated=更新日 (default: those common names)")
    imported.add_argument("--category", help="category id for rows without a category (a new file if unknown)")
    imported.add_argument("--section", help="counter id for rows without a section (担当課)")
    imported.add_argument("--apply", action="store_true", help="write the changes into intents/faq/")
