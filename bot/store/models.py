"""SQLAlchemy models (1.4 API, 2.0 style queries)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import declarative_base

from bot.clock import real_utcnow

# SQLAlchemy 1.4's declarative_base() makes a class at run time, which mypy cannot follow without the
# sqlalchemy2-stubs plugin; `Any` lets the models subclass it (their columns are still Column objects).
Base: Any = declarative_base()


class StaffAccount(Base):
    __tablename__ = "staff_accounts"
    id = Column(Integer, primary_key=True)
    username = Column(String(64), unique=True, nullable=False)
    display_name = Column(String(128), nullable=False)
    role = Column(String(16), nullable=False)  # staff | admin
    section = Column(String(32), nullable=True)  # counter id, e.g. shimin
    password_hash = Column(String(128), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime, nullable=False, default=real_utcnow)


class StaffSession(Base):
    __tablename__ = "staff_sessions"
    token_hash = Column(String(64), primary_key=True)
    account_id = Column(Integer, ForeignKey("staff_accounts.id"), nullable=False)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(DateTime, nullable=False, default=real_utcnow)
    expires_at = Column(DateTime, nullable=False)


class Handoff(Base):
    """The current handoff state of one conversation (one row per conversation)."""

    __tablename__ = "handoffs"
    conversation_id = Column(String(128), primary_key=True)
    channel = Column(String(32), nullable=False)
    state = Column(String(24), nullable=False)  # bot | queued | assigned | closed | callback_requested
    section = Column(String(32), nullable=False)
    language = Column(String(8), nullable=False, default="ja")
    reason = Column(String(32), nullable=False, default="request")
    summary = Column(Text, nullable=False, default="{}")  # JSON: procedure, slots, last messages
    queued_at = Column(DateTime, nullable=True)
    assigned_to = Column(Integer, ForeignKey("staff_accounts.id"), nullable=True)
    assigned_at = Column(DateTime, nullable=True)
    ended_at = Column(DateTime, nullable=True)
    close_note = Column(Text, nullable=True)
    awaiting = Column(String(32), nullable=True)  # input the bot waits for, e.g. callback_phone
    updated_at = Column(DateTime, nullable=False, default=real_utcnow)


class CallbackRequest(Base):
    """A resident's after-hours request to be called back; deleted once the call is made."""

    __tablename__ = "callback_requests"
    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    phone = Column(String(32), nullable=False)
    consent_at = Column(DateTime, nullable=False)
    section = Column(String(32), nullable=False)
    created_at = Column(DateTime, nullable=False, default=real_utcnow)


class VisitSlip(Base):
    """What a resident brings to the counter: a short number a clerk can look up."""

    __tablename__ = "visit_slips"
    number = Column(String(8), primary_key=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    procedure = Column(String(64), nullable=True)
    language = Column(String(8), nullable=False)
    content = Column(Text, nullable=False)  # JSON: title, documents, counter, summary
    created_at = Column(DateTime, nullable=False, default=real_utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False, default=real_utcnow)
    actor = Column(String(64), nullable=False)
    action = Column(String(48), nullable=False)
    conversation_id = Column(String(128), nullable=True, index=True)
    detail = Column(Text, nullable=True)


class SatisfactionAnswer(Base):
    __tablename__ = "satisfaction"
    __table_args__ = (UniqueConstraint("conversation_id", "asked_at"),)
    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(128), nullable=False)
    asked_at = Column(DateTime, nullable=False)
    score = Column(Integer, nullable=True)


class ConversationStats(Base):
    """Anonymous counts that outlive deleted conversations (no ids, no text): how many
    conversations a channel had on a day (the day of their first message), and how many
    of them reached a person. Written when a conversation is deleted or purged."""

    __tablename__ = "conversation_stats"
    __table_args__ = (UniqueConstraint("day", "channel"),)
    id = Column(Integer, primary_key=True)
    day = Column(Date, nullable=False)
    channel = Column(String(16), nullable=False)
    conversations = Column(Integer, nullable=False, default=0)
    handoffs = Column(Integer, nullable=False, default=0)


class CatalogVersion(Base):
    """One saved version of a catalog file (admin console): the whole file as written, who
    wrote it and when, so any version can be shown again and restored."""

    __tablename__ = "catalog_versions"
    id = Column(Integer, primary_key=True)
    path = Column(String(255), nullable=False, index=True)  # relative to the catalog folder
    digest = Column(String(64), nullable=False)  # sha256 of `content`: the edit version a client sent
    content = Column(Text, nullable=False)
    author = Column(String(64), nullable=False)
    action = Column(String(32), nullable=False)  # original | save | restore | example.add | example.move
    created_at = Column(DateTime, nullable=False, default=real_utcnow)


class MissedDismissal(Base):
    """A missed question an administrator dismissed, by a hash of its text (no text, no conversation id)."""

    __tablename__ = "missed_dismissals"
    key = Column(String(255), primary_key=True)
    dismissed_by = Column(String(64), nullable=False)
    created_at = Column(DateTime, nullable=False, default=real_utcnow)


class ModelRecord(Base):
    """A trained model the admin console can evaluate, publish or roll back to (bot/admin/models.py)."""

    __tablename__ = "models"
    id = Column(Integer, primary_key=True)
    fingerprint = Column(String(32), nullable=False, index=True)  # of the catalog it was trained on
    path = Column(String(512), nullable=False)
    created_at = Column(DateTime, nullable=False, default=real_utcnow)
    trained_by = Column(String(64), nullable=False)
    scores = Column(Text, nullable=True)  # JSON {accuracy, macro_f1}, once evaluated
    evaluation = Column(Text, nullable=True)  # JSON: per-intent P/R/F1 and confused pairs (computed once)
    published_at = Column(DateTime, nullable=True)  # the last time it was published
    published_by = Column(String(64), nullable=True)
