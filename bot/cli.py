"""The `madoguchi` command: check, compile, train, serve, staff, purge."""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from bot.settings import Settings


def cmd_check(settings: Settings, args) -> int:
    from bot.catalog import CatalogError, load_catalog

    try:
        catalog = load_catalog(settings.catalog_dir)
    except CatalogError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print(f"{len(error.problems)} problem(s) in {settings.catalog_dir}", file=sys.stderr)
        return 1
    examples = sum(len(v) for ex in catalog.intent_examples().values() for v in ex.values())
    print(f"catalog OK: {len(catalog.procedures)} procedures, {len(catalog.conversation)} conversation intents, "
          f"{len(catalog.life_events)} life events, {examples} examples")
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
    from bot.training import ensure_model

    if cmd_check(settings, args):
        return 1
    ensure_model(settings, force=args.force)
    return 0


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
    deletions = privacy.purge(service_for(settings.tracker_database_url, settings.callback_ttl_seconds).db, older_than, timezone=settings.timezone)
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
    sub.add_parser("check", help="validate the catalog in intents/")
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
    handler = {"check": cmd_check, "compile": cmd_compile, "train": cmd_train, "serve": cmd_serve,
               "purge": cmd_purge}[args.command]
    return handler(settings, args)


if __name__ == "__main__":
    sys.exit(main())
