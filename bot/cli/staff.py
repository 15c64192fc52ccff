"""`madoguchi staff add`: staff and admin accounts."""
from __future__ import annotations

import sys

from bot.settings import Settings


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


def add_staff_commands(sub) -> None:
    staff = sub.add_parser("staff", help="manage staff and admin accounts")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    add = staff_sub.add_parser("add", help="add an account")
    add.add_argument("--username", required=True)
    add.add_argument("--role", required=True, choices=["staff", "admin"])
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument("--display-name", help="name shown to residents (default: the username)")
    add.add_argument("--section", help="counter id the clerk belongs to, e.g. shimin")
