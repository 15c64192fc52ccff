"""The tracker store and lock store the server builds from settings, on the real services
this machine kind runs (PostgreSQL on 127.0.0.1:5432, Redis on 127.0.0.1:6379)."""
import asyncio
import uuid

from rasa.core.lock_store import LockStore
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.server import lock_store_endpoint, tracker_store_endpoint
from bot.settings import Settings

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def round_trip(settings: Settings) -> str:
    store = TrackerStore.create(tracker_store_endpoint(settings), domain=Domain.empty())
    sender = f"store-{uuid.uuid4().hex[:8]}"
    tracker = DialogueStateTracker(sender, slots=[])
    tracker.update(UserUttered("住民票がほしい", intent={"name": "residence_certificate", "confidence": 1.0}))

    async def save_and_load():
        await store.save(tracker)
        loaded = await store.retrieve(sender)
        return loaded.latest_message.text

    return asyncio.run(save_and_load())


def test_sqlite_is_the_default_tracker_store(tmp_path):
    settings = Settings(var_dir=tmp_path)
    assert settings.tracker_database_url == f"sqlite:///{tmp_path / 'madoguchi.db'}"
    assert round_trip(settings) == "住民票がほしい"
    assert (tmp_path / "madoguchi.db").exists()


def test_postgresql_when_a_database_url_is_set(tmp_path):
    settings = Settings(var_dir=tmp_path, database_url=POSTGRES_URL)
    assert round_trip(settings) == "住民票がほしい"
    assert not (tmp_path / "madoguchi.db").exists()


def test_redis_lock_store_when_a_redis_url_is_set():
    endpoint = lock_store_endpoint(Settings(redis_url="redis://127.0.0.1:6379/0"))
    store = LockStore.create(endpoint)
    assert type(store).__name__ == "AtomicRedisLockStore"  # not Rasa's racy RedisLockStore
    sender = f"lock-{uuid.uuid4().hex[:8]}"

    async def lock_twice():
        async with store.lock(sender):
            held = store.get_lock(sender)  # read back from Redis while held
            assert held is not None and held.conversation_id == sender
        async with store.lock(sender):   # released, so it can be taken again
            return True

    assert asyncio.run(lock_twice())
    assert lock_store_endpoint(Settings()) is None  # in-memory lock store by default


def test_tracker_store_work_runs_off_the_event_loop(tmp_path):
    """While another connection holds SQLite's write lock, saving a conversation waits in a
    worker thread; the event loop keeps serving others (here: a ticker that releases the lock).
    With Rasa's stock SQLTrackerStore the save blocks the loop, the ticker never runs, and the
    save fails with "database is locked"."""
    import sqlite3

    from bot.store.tracker_store import ThreadedSQLTrackerStore

    settings = Settings(var_dir=tmp_path)
    store = TrackerStore.create(tracker_store_endpoint(settings), domain=Domain.empty())
    assert isinstance(store, ThreadedSQLTrackerStore)
    sender = f"store-{uuid.uuid4().hex[:8]}"
    tracker = DialogueStateTracker(sender, slots=[])
    tracker.update(UserUttered("印鑑登録をしたい", intent={"name": "seal_registration", "confidence": 1.0}))

    blocker = sqlite3.connect(tmp_path / "madoguchi.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")

    async def save_while_locked():
        ticks = 0
        save = asyncio.ensure_future(store.save(tracker))
        while not save.done():
            await asyncio.sleep(0.05)
            ticks += 1
            if ticks == 5:
                blocker.execute("COMMIT")
        await save
        loaded = await store.retrieve(sender)
        return ticks, loaded.latest_message.text

    ticks, text = asyncio.run(save_while_locked())
    blocker.close()
    assert ticks >= 5
    assert text == "印鑑登録をしたい"


def test_our_tables_are_created_where_no_data_folder_exists_yet(tmp_path):
    """A fresh checkout has no var/: the server opens our tables before Rasa's tracker store."""
    from bot.store import Database

    settings = Settings(var_dir=tmp_path / "var")
    Database(settings.tracker_database_url).create_tables()
    assert (tmp_path / "var" / "madoguchi.db").exists()
