"""`madoguchi serve`: the one server (bot/server.py)."""
from __future__ import annotations

import sys

from bot.cli.catalog import cmd_check
from bot.settings import Settings


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


def add_serve_command(sub) -> None:
    sub.add_parser("serve", help="serve everything on MADOGUCHI_HOST:MADOGUCHI_PORT (default 127.0.0.1:5005)")
