"""The `madoguchi` command: check, compile, train, serve."""
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
    from bot.catalog.compile import compile_catalog, fingerprint

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
    from bot.server import serve

    if cmd_check(settings, args):
        return 1
    serve(settings)
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
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    handler = {"check": cmd_check, "compile": cmd_compile, "train": cmd_train, "serve": cmd_serve}[args.command]
    return handler(settings, args)


if __name__ == "__main__":
    sys.exit(main())
