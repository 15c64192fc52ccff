"""The `madoguchi` command: catalog (validate, train, evaluate, publish, rollback, history,
stale, import, export), db (upgrade, current, history, revision), faq (import), check, compile,
train, serve, staff, purge."""
from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

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
    files = compile_catalog(load_catalog(settings.catalog_dir), settings.build_dir)
    print(f"compiled to {settings.build_dir} (fingerprint {fingerprint(files)})")
    return 0


def cmd_train(settings: Settings, args) -> int:
    """The one-step way (`make run`): train if the catalog changed, register the model and make
    it the one the next `madoguchi serve` starts with."""
    from bot.training import train_catalog

    if cmd_check(settings, args):
        return 1
    path, fingerprint, trained = train_catalog(settings, force=args.force)
    registry = model_registry(settings)
    model = registry.register(path, fingerprint, operator(), retrained=trained)
    registry.mark_published(model.id, operator())
    report_pruned(registry.prune_files())
    return 0


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


def cmd_catalog_train(settings: Settings, args) -> int:
    """Train (or reuse the model of this exact catalog), register it, evaluate it. Not published."""
    import fcntl

    from bot.admin.models import HELDOUT_FILES
    from bot.training import evaluate_model, train_catalog

    if cmd_check(settings, args):
        return 1
    quiet_rasa(settings)
    progress = ProgressPrinter(args.progress_json)
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.models_dir / ".training.lock", "w") as lock:
        try:  # one training at a time, whoever starts it (CLI or console)
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("error: another training is running (models/.training.lock)", file=sys.stderr)
            return 3
        path, fingerprint, trained = train_catalog(settings, force=args.force, progress=progress)
    registry = model_registry(settings)
    trained_by = args.trained_by or operator()
    model = registry.register(path, fingerprint, trained_by, retrained=trained)
    progress({"phase": "registered", "model": model.id})
    report_pruned(registry.prune_files())
    audit(settings, "model.train", {"model": model.id, "fingerprint": fingerprint, "trained": trained},
          actor=trained_by)
    if not model.evaluated and not args.no_evaluate:
        evaluation = evaluate_model(path, HELDOUT_FILES, progress)
        registry.save_evaluation(model.id, evaluation)
        print(f"model {model.id} ({fingerprint}): accuracy {evaluation['accuracy']:.3f}, "
              f"macro F1 {evaluation['macro_f1']:.3f}", flush=True)
    else:
        print(f"model {model.id} ({fingerprint}) registered", flush=True)
    return 0


def cmd_catalog_evaluate(settings: Settings, args) -> int:
    """Evaluate models (default: the newest) on the held-out set; side by side with the
    published one; the result is stored with each model, so it is computed once."""
    from bot.admin.models import HELDOUT_FILES
    from bot.training import evaluate_model

    registry = model_registry(settings)
    ids = args.ids or ([registry.latest().id] if registry.latest() else [])
    if not ids:
        print("error: no model registered yet: run `madoguchi catalog train`", file=sys.stderr)
        return 1
    quiet_rasa(settings)
    progress = ProgressPrinter(args.progress_json)
    published = registry.published()
    wanted = list(ids) + ([published.id] if published and published.id not in ids and not args.progress_json else [])
    reports = {}
    for model_id in wanted:
        model = registry.get(model_id)
        if model is None or not model.available:
            print(f"error: model {model_id} does not exist (or its file is gone)", file=sys.stderr)
            return 1
        report = registry.evaluation(model_id)
        if report is None or args.again:
            registry.save_evaluation(model_id, evaluate_model(model.path, HELDOUT_FILES, progress))
            report = registry.evaluation(model_id)
        reports[model_id] = report
    if args.json:
        print(json.dumps(reports, ensure_ascii=False, indent=1))
    elif not args.progress_json:
        print_side_by_side(reports, ids[0], published.id if published else None)
    return 0


def print_side_by_side(reports: Dict[int, Dict[str, Any]], model_id: int, published_id: Optional[int]) -> None:
    new = reports[model_id]
    old = reports.get(published_id) if published_id is not None and published_id != model_id else None
    header = f"{'intent':32} {'P':>5} {'R':>5} {'F1':>5}" + (f"   | published {published_id}: F1" if old else "")
    print(f"model {model_id}: accuracy {new['accuracy']:.3f}, macro F1 {new['macro_f1']:.3f}"
          + (f"   (published model {published_id}: {old['accuracy']:.3f}, {old['macro_f1']:.3f})" if old else ""))
    print(header)
    for intent, row in sorted(new["per_intent"].items()):
        line = f"{intent:32} {row['precision']:5.2f} {row['recall']:5.2f} {row['f1']:5.2f}"
        if old and intent in old["per_intent"]:
            before = old["per_intent"][intent]["f1"]
            line += f"   | {before:5.2f} {'↑' if row['f1'] > before else '↓' if row['f1'] < before else ''}"
        print(line)
    if new["confused"]:
        print("most confused (expected → predicted):")
        for pair in new["confused"]:
            print(f"  {pair['expected']} → {pair['predicted']}: {pair['count']}")


def cmd_catalog_publish(settings: Settings, args, rollback: bool = False) -> int:
    """Make a model the published one: the next start serves it. (A running server switches
    with no restart through the admin console, POST /admin/api/models/<id>/publish.)"""
    from bot.admin.models import NotPublishable

    registry = model_registry(settings)
    current = registry.published()
    running_id = current.id if current else None
    if args.id is None:
        target = registry.previous_published(running_id) if rollback else registry.latest()
        if target is None:
            print("error: no model to " + ("roll back to" if rollback else "publish"), file=sys.stderr)
            return 1
        model_id = target.id
    else:
        model_id = args.id
    try:
        model = registry.check_publishable(model_id, running_id, rollback)
    except NotPublishable as reason:
        print(f"error: {reason}", file=sys.stderr)
        return 1
    registry.mark_published(model.id, operator())
    audit(settings, "model.rollback" if rollback else "model.publish", {"model": model.id,
                                                                       "fingerprint": model.fingerprint})
    print(f"{'rolled back to' if rollback else 'published'} model {model.id} ({model.path.name}); "
          f"the next `madoguchi serve` starts with it")
    return 0


def cmd_catalog_history(settings: Settings, args) -> int:
    registry = model_registry(settings)
    published = registry.published()
    models = registry.all()
    if not models:
        print("no model registered yet")
    for model in models:
        scores = model.scores or {}
        marks = ("*" if published and model.id == published.id else " ") + (" " if model.available else "x")
        score = f"acc {scores['accuracy']:.3f} F1 {scores['macro_f1']:.3f}" if scores else "not evaluated"
        published_text = (f"published {model.published_at:%Y-%m-%d %H:%M} by {model.published_by}"
                          if model.published_at else "never published")
        print(f"{marks} {model.id:>4}  {model.fingerprint}  {model.created_at:%Y-%m-%d %H:%M}  "
              f"by {model.trained_by:<16} {score:<24} {published_text}")
    print("(* published, x file gone)")
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


def cmd_db_upgrade(settings: Settings, args) -> int:
    """Bring our tables to the newest migration (the server and every tool also do it on start);
    with --sql, print the SQL it would run instead, for a DBA to review or run."""
    from bot.store import Database
    from bot.store.migrate import SchemaMismatch, SchemaNewerThanCode, current_revision, head_revision, upgrade_sql

    db = Database(settings.tracker_database_url)
    if args.sql:
        with db.engine.connect() as connection:
            start = current_revision(connection)
        print(f"-- from {start or 'an empty database'} to {head_revision()}", file=sys.stderr)
        upgrade_sql(settings.tracker_database_url, start, sys.stdout)
        return 0
    try:
        db.upgrade_schema()
    except (SchemaMismatch, SchemaNewerThanCode) as refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 1
    print(f"database at migration {head_revision()} (head)")
    return 0


def cmd_db_current(settings: Settings, args) -> int:
    from sqlalchemy import inspect

    from bot.store import Database
    from bot.store.migrate import current_revision, first_revision_schema, head_revision

    with Database(settings.tracker_database_url).engine.connect() as connection:
        current = current_revision(connection)
        ours = set(inspect(connection).get_table_names()) & set(first_revision_schema().tables)
    if current is None:
        print("no migration recorded: " + (f"{len(ours)} table(s) made before migrations (an upgrade checks and "
                                           "adopts them)" if ours else "our tables do not exist yet"))
    elif current == head_revision():
        print(f"{current} (head)")
    else:
        print(f"{current} (behind {head_revision()}: run `madoguchi db upgrade`)")
    return 0 if current == head_revision() else 1


def cmd_db_history(settings: Settings, args) -> int:
    from bot.store.migrate import head_revision, history

    for script in history():
        title = (script.doc or "").splitlines()[0] if script.doc else ""
        print(f"{script.revision}  {title}" + ("  (head)" if script.revision == head_revision() else ""))
    return 0


def cmd_db_revision(settings: Settings, args) -> int:
    """Write a migration for what bot/store/models.py changed (autogenerate), for a developer to read and commit."""
    from bot.store.migrate import new_revision

    path = new_revision(args.message, empty=args.empty)
    if path is None:
        print("the models and the migrations agree: nothing to write (--empty for a hand-written migration)",
              file=sys.stderr)
        return 1
    print(f"wrote {path}: read it, adjust it, run `madoguchi db upgrade` and commit it")
    return 0


def cmd_db(settings: Settings, args) -> int:
    handlers = {"upgrade": cmd_db_upgrade, "current": cmd_db_current, "history": cmd_db_history,
                "revision": cmd_db_revision}
    return handlers[args.db_command](settings, args)


def add_db_commands(sub) -> None:
    db = sub.add_parser("db", help="migrations of our tables (MADOGUCHI_DATABASE_URL): upgrade, current, …")
    commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = commands.add_parser("upgrade", help="bring the tables to the newest migration (start does it too)")
    upgrade.add_argument("--sql", action="store_true", help="print the SQL instead of running it")
    commands.add_parser("current", help="the database's migration; exit 1 when it is not the newest")
    commands.add_parser("history", help="every migration, oldest first")
    revision = commands.add_parser("revision", help="write a migration for what bot/store/models.py changed")
    revision.add_argument("-m", "--message", required=True, help="what the migration does, e.g. 'add handoff tag'")
    revision.add_argument("--empty", action="store_true", help="an empty migration to write by hand")


def cmd_serve(settings: Settings, args) -> int:
    from bot.server import ServeRefused, check_listen_address, serve

    try:
        check_listen_address(settings)
    except ServeRefused as refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    if cmd_check(settings, args):
        return 1
    serve(settings)
    return 0


def cmd_staff_add(settings: Settings, args) -> int:
    from bot.handoff.runtime import service_for
    from bot.staff.accounts import AccountError, Accounts

    if not args.password_stdin:
        print("give the password on standard input with --password-stdin (never on the command line)", file=sys.stderr)
        return 2
    password = sys.stdin.readline().rstrip("\n")
    try:
        account = Accounts(service_for(settings.tracker_database_url, settings.callback_ttl_seconds).db).add(
            args.username, password, args.role, display_name=args.display_name, section=args.section)
    except AccountError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"added {account.role} account {account.username!r}")
    return 0


def cmd_purge(settings: Settings, args) -> int:
    """Delete conversations whose last message is older than --older-than (default: the
    retention period), keeping only anonymous daily counts (bot/privacy.py)."""
    from bot import privacy
    from bot.handoff.runtime import service_for

    try:
        older_than = privacy.parse_age(args.older_than or f"{settings.retention_days}d")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    database = service_for(settings.tracker_database_url, settings.callback_ttl_seconds).db
    deletions = privacy.purge(database, older_than, timezone=settings.timezone)
    by_channel: dict = {}
    for deletion in deletions:
        by_channel[deletion.channel] = by_channel.get(deletion.channel, 0) + 1
    detail = ", ".join(f"{channel} {count}" for channel, count in sorted(by_channel.items()))
    print(f"purged {len(deletions)} conversation(s) older than {older_than.days} day(s)"
          + (f" ({detail})" if detail else ""))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    parser = argparse.ArgumentParser(prog="madoguchi", description="madoguchi service-desk assistant")
    sub = parser.add_subparsers(dest="command", required=True)
    add_catalog_commands(sub)
    add_db_commands(sub)
    add_faq_commands(sub)
    check = sub.add_parser("check", help="validate the catalog in intents/ (= catalog validate)")
    check.add_argument("directory", nargs="?", help="catalog folder (default: MADOGUCHI_CATALOG or intents/)")
    sub.add_parser("compile", help="compile the catalog to Rasa files in build/rasa/")
    train = sub.add_parser("train", help="train a model if the catalog changed")
    train.add_argument("--force", action="store_true", help="train even if a model for this catalog exists")
    sub.add_parser("serve", help="serve everything on MADOGUCHI_HOST:MADOGUCHI_PORT (default 127.0.0.1:5005)")
    staff = sub.add_parser("staff", help="manage staff and admin accounts")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    add = staff_sub.add_parser("add", help="add an account")
    add.add_argument("--username", required=True)
    add.add_argument("--role", required=True, choices=["staff", "admin"])
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument("--display-name", help="name shown to residents (default: the username)")
    add.add_argument("--section", help="counter id the clerk belongs to, e.g. shimin")
    purge = sub.add_parser("purge", help="delete conversations older than the retention period")
    purge.add_argument("--older-than", help="age such as 90d, 12h or 2w (default: MADOGUCHI_RETENTION_DAYS, 90d)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.command == "staff":
        return cmd_staff_add(settings, args)
    if args.command == "catalog":
        return cmd_catalog(settings, args)
    if args.command == "db":
        return cmd_db(settings, args)
    if args.command == "faq":
        return cmd_faq_import(settings, args)
    handler = {"check": cmd_check, "compile": cmd_compile, "train": cmd_train, "serve": cmd_serve,
               "purge": cmd_purge}[args.command]
    return handler(settings, args)


if __name__ == "__main__":
    sys.exit(main())
