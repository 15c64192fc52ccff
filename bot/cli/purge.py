"""`madoguchi purge`: delete conversations past the retention period (bot/privacy.py)."""
from __future__ import annotations

import sys

from bot.settings import Settings


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


def add_purge_command(sub) -> None:
    purge = sub.add_parser("purge", help="delete conversations older than the retention period")
    purge.add_argument("--older-than", help="age such as 90d, 12h or 2w (default: MADOGUCHI_RETENTION_DAYS, 90d)")
