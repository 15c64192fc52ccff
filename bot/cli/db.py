"""`madoguchi db upgrade|current|history|revision`: migrations of our tables."""
from __future__ import annotations

import sys

from bot.settings import Settings


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
