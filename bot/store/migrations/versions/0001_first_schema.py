"""First schema: the tables `Base.metadata.create_all` made before migrations existed.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

The tables are written out here as they were at this revision (not imported from models.py,
which moves on): `schema()` is also what a database made by create_all, with no
alembic_version table, is checked against before it is stamped at this revision.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from alembic.operations.ops import CreateIndexOp, CreateTableOp

revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def schema() -> sa.MetaData:
    metadata = sa.MetaData()
    sa.Table(
        "staff_accounts", metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), unique=True, nullable=False),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("section", sa.String(32), nullable=True),
        sa.Column("password_hash", sa.String(128), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    sa.Table(
        "staff_sessions", metadata,
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("staff_accounts.id"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    sa.Table(
        "handoffs", metadata,
        sa.Column("conversation_id", sa.String(128), primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("section", sa.String(32), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("queued_at", sa.DateTime, nullable=True),
        sa.Column("assigned_to", sa.Integer, sa.ForeignKey("staff_accounts.id"), nullable=True),
        sa.Column("assigned_at", sa.DateTime, nullable=True),
        sa.Column("ended_at", sa.DateTime, nullable=True),
        sa.Column("close_note", sa.Text, nullable=True),
        sa.Column("awaiting", sa.String(32), nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    sa.Table(
        "callback_requests", metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conversation_id", sa.String(128), nullable=False, index=True),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("consent_at", sa.DateTime, nullable=False),
        sa.Column("section", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    sa.Table(
        "visit_slips", metadata,
        sa.Column("number", sa.String(8), primary_key=True),
        sa.Column("conversation_id", sa.String(128), nullable=False, index=True),
        sa.Column("procedure", sa.String(64), nullable=True),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    sa.Table(
        "audit_log", metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("conversation_id", sa.String(128), nullable=True, index=True),
        sa.Column("detail", sa.Text, nullable=True),
    )
    sa.Table(
        "satisfaction", metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("asked_at", sa.DateTime, nullable=False),
        sa.Column("score", sa.Integer, nullable=True),
        sa.UniqueConstraint("conversation_id", "asked_at"),
    )
    sa.Table(
        "conversation_stats", metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("conversations", sa.Integer, nullable=False),
        sa.Column("handoffs", sa.Integer, nullable=False),
        sa.UniqueConstraint("day", "channel"),
    )
    sa.Table(
        "catalog_versions", metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("path", sa.String(255), nullable=False, index=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    sa.Table(
        "missed_dismissals", metadata,
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("dismissed_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    sa.Table(
        "models", metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("fingerprint", sa.String(32), nullable=False, index=True),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("trained_by", sa.String(64), nullable=False),
        sa.Column("scores", sa.Text, nullable=True),
        sa.Column("evaluation", sa.Text, nullable=True),
        sa.Column("published_at", sa.DateTime, nullable=True),
        sa.Column("published_by", sa.String(64), nullable=True),
    )
    return metadata


def upgrade() -> None:
    for table in schema().sorted_tables:  # referenced tables first
        op.invoke(CreateTableOp.from_table(table))
        for index in sorted(table.indexes, key=lambda index: str(index.name)):
            op.invoke(CreateIndexOp.from_index(index))


def downgrade() -> None:
    # Only our tables: Rasa's `events` (same database) and alembic_version stay.
    for table in reversed(schema().sorted_tables):
        op.drop_table(table.name)
