"""`madoguchi catalog validate|stale|export|import` (the catalog group's parser), `check` and `compile`."""
from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

from bot.cli.common import audit
from bot.settings import Settings


def cmd_check(settings: Settings, args) -> int:
    """`madoguchi catalog validate [DIR]` (and its old name `madoguchi check`): one
    `file:line: field: message` line per problem on stderr, exit 1 when there is one."""
    from bot.catalog import CatalogError, load_catalog

    directory = Path(getattr(args, "directory", None) or settings.catalog_dir)
    try:
        catalog = load_catalog(directory)
    except CatalogError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print(f"{len(error.problems)} problem(s) in {directory}", file=sys.stderr)
        return 1
    examples = sum(len(v) for ex in catalog.intent_examples().values() for v in ex.values())
    print(f"catalog OK: {len(catalog.procedures)} procedures, {len(catalog.conversation)} conversation intents, "
          f"{len(catalog.life_events)} life events, {examples} examples, "
          f"{len(catalog.faq)} FAQ entries in {len(catalog.faq_categories)} categories")
    return 0


def cmd_compile(settings: Settings, args) -> int:
    from bot.catalog import load_catalog
    from bot.catalog.compile import compile_catalog
    from bot.training import fingerprint

    if cmd_check(settings, args):
        return 1
    files = compile_catalog(load_catalog(settings.catalog_dir), settings.build_dir, epochs=settings.train_epochs)
    print(f"compiled to {settings.build_dir} (fingerprint {fingerprint(files)})")
    return 0


def cmd_catalog_stale(settings: Settings, args) -> int:
    """Procedures past their review-by date, by owner section; exit 1 when there is one."""
    from bot.catalog import load_catalog
    from bot.catalog.freshness import stale_procedures

    today = dt.date.fromisoformat(args.today) if args.today else dt.date.today()
    groups = stale_procedures(load_catalog(settings.catalog_dir), today)
    for owner, entries in groups:
        print(f"{owner}:")
        for entry in entries:
            print(f"  {entry.procedure.id}  review by {entry.procedure.review_by} "
                  f"({entry.days_overdue} day(s) overdue)  {entry.procedure.title.ja}")
    if not groups:
        print(f"no procedure is past its review-by date ({today})")
    return 1 if groups else 0


def cmd_catalog_export(settings: Settings, args) -> int:
    from bot.admin import opendata
    from bot.catalog import CatalogError

    try:
        document = opendata.export_document(settings.catalog_dir, opendata.Publication.from_settings(settings))
    except CatalogError as error:
        print(f"error: the catalog does not validate, nothing exported:\n{error}", file=sys.stderr)
        return 1
    text = (opendata.to_csv(document) if args.format == "csv"
            else json.dumps(document, ensure_ascii=False, indent=1) + "\n")
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_catalog_import(settings: Settings, args) -> int:
    """Show what another municipality's export would change here; merge it with --yes."""
    from bot.admin import opendata

    try:
        plan = opendata.plan_import(Path(args.file), settings.catalog_dir)
    except opendata.ImportRefused as reason:
        print(f"error: {reason}", file=sys.stderr)
        return 1
    for line in plan.describe():
        print(line)
    if not plan.changes:
        return 0
    if not args.yes:
        print("nothing written: run again with --yes to merge these changes into " + str(settings.catalog_dir))
        return 0
    try:
        written = opendata.apply_import(plan, settings.catalog_dir)
    except opendata.ImportRefused as reason:
        print(f"error: {reason}", file=sys.stderr)
        return 1
    audit(settings, "catalog.import", {"file": Path(args.file).name, "procedures": sorted(plan.changes)})
    print(f"merged {len(written)} procedure file(s); validate passed. Train and publish to use new examples.")
    return 0


def cmd_catalog(settings: Settings, args) -> int:
    # The model commands live in bot/cli/models.py, which uses `cmd_check` from here.
    from bot.cli.models import cmd_catalog_evaluate, cmd_catalog_history, cmd_catalog_publish, cmd_catalog_train

    handlers = {"validate": cmd_check, "train": cmd_catalog_train, "evaluate": cmd_catalog_evaluate,
                "publish": cmd_catalog_publish, "history": cmd_catalog_history, "stale": cmd_catalog_stale,
                "export": cmd_catalog_export, "import": cmd_catalog_import}
    if args.catalog_command == "rollback":
        return cmd_catalog_publish(settings, args, rollback=True)
    return handlers[args.catalog_command](settings, args)


def add_catalog_commands(sub) -> None:
    catalog = sub.add_parser("catalog", help="the catalog and its models: validate, train, evaluate, publish, …")
    commands = catalog.add_subparsers(dest="catalog_command", required=True)
    validate = commands.add_parser("validate", help="check intents/ (or DIR): file:line: field: message")
    validate.add_argument("directory", nargs="?", help="catalog folder (default: MADOGUCHI_CATALOG or intents/)")
    train = commands.add_parser("train", help="train a model for the catalog as it is, register and evaluate it")
    train.add_argument("--force", action="store_true", help="train even if a model for this catalog exists")
    train.add_argument("--progress-json", action="store_true", help="progress as @progress JSON lines")
    train.add_argument("--trained-by", help="name recorded as the trainer (default: cli:<login>)")
    train.add_argument("--no-evaluate", action="store_true", help="skip the held-out evaluation")
    evaluate = commands.add_parser("evaluate", help="per-intent precision/recall/F1, side by side with the published")
    evaluate.add_argument("ids", nargs="*", type=int, help="model ids (default: the newest)")
    evaluate.add_argument("--json", action="store_true", help="print the evaluations as JSON")
    evaluate.add_argument("--again", action="store_true", help="evaluate again even if stored")
    evaluate.add_argument("--progress-json", action="store_true", help="progress as @progress JSON lines")
    publish = commands.add_parser("publish", help="make a model the published one (default: the newest)")
    publish.add_argument("id", nargs="?", type=int)
    rollback = commands.add_parser("rollback", help="go back to an earlier published model (default: the previous)")
    rollback.add_argument("id", nargs="?", type=int)
    commands.add_parser("history", help="every registered model with scores and publications")
    stale = commands.add_parser("stale", help="procedures past their review-by date, by owner section")
    stale.add_argument("--today", help="the date to compare with (YYYY-MM-DD, default: today)")
    export = commands.add_parser("export", help="the catalog as open data (JSON or CSV) on stdout")
    export.add_argument("--format", choices=["json", "csv"], default="json")
    export.add_argument("--output", "-o", help="write to this file instead of stdout")
    imported = commands.add_parser("import", help="show what another city's export changes here; merge with --yes")
    imported.add_argument("file", help="a procedures.json export (ours or another municipality's)")
    imported.add_argument("--yes", action="store_true", help="merge: write the changed procedures into intents/")


def add_check_commands(sub) -> None:
    """`check` (the old name of `catalog validate`) and `compile`."""
    check = sub.add_parser("check", help="validate the catalog in intents/ (= catalog validate)")
    check.add_argument("directory", nargs="?", help="catalog folder (default: MADOGUCHI_CATALOG or intents/)")
    sub.add_parser("compile", help="compile the catalog to Rasa files in build/rasa/")
