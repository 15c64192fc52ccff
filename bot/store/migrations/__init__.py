"""Alembic migrations of madoguchi's own tables: env.py, the revision template and versions/.

bot/store/migrate.py runs them (on every start, and from `madoguchi db …`). Rasa's `events`
table lives in the same database and is left to Rasa.
"""
