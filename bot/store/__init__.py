"""madoguchi's own tables (handoff, staff, audit, slips), beside Rasa's tracker store."""
from bot.store.database import Database

__all__ = ["Database"]
