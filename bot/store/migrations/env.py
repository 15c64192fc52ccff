"""How Alembic reaches the database: the connection bot/store/migrate.py hands over (online),
or only the URL's dialect when printing SQL (`madoguchi db upgrade --sql`)."""
from __future__ import annotations

from alembic import context

from bot.store.migrate import is_our_table_name
from bot.store.models import Base

config = context.config
# Shared by both modes: our models are the target, Rasa's table is never compared or touched,
# and autogenerate writes batch operations, which SQLite needs for ALTER (PostgreSQL runs them directly).
OPTIONS = dict(
    target_metadata=Base.metadata,
    include_name=is_our_table_name,
    render_as_batch=True,
    compare_type=True,
    process_revision_directives=config.attributes.get("process_revision_directives"),
)


def run_offline() -> None:
    context.configure(url=config.attributes["url"], literal_binds=True, dialect_opts={"paramstyle": "named"},
                      **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    # The caller holds the migration lock on this connection and commits after (bot/store/migrate.py).
    context.configure(connection=config.attributes["connection"], **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
