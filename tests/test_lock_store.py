"""The Redis ticket lock is atomic across processes (real Redis on 127.0.0.1:6379).

Two OS processes play two replicas. Each runs many concurrent turns on the SAME conversation;
inside the lock a turn does a deliberately racy read-sleep-write on a shared Redis counter and
marks itself "inside". With a correct lock no update is lost, nobody is ever inside together,
every ticket number is issued once, and each process is served in ticket order."""
from __future__ import annotations

import asyncio
import multiprocessing
import time
import uuid

import pytest
import redis
from rasa.core.lock_store import LockError

from bot.store.lock_store import AtomicRedisLockStore
from tests.conftest import REDIS_URL

TURNS_PER_PROCESS = 40


def replica(conversation_id: str, counter_key: str, inside_key: str, results) -> None:
    """One 'replica': TURNS_PER_PROCESS concurrent turns on one conversation."""
    store = AtomicRedisLockStore(url=REDIS_URL)
    plain = redis.Redis.from_url(REDIS_URL)
    served = []

    async def turn() -> None:
        async with store.lock(conversation_id, lock_lifetime=30):
            together = plain.incr(inside_key)
            value = int(plain.get(counter_key) or 0)
            await asyncio.sleep(0.002)  # a lost update shows if anyone else gets in now
            plain.set(counter_key, value + 1)
            served.append(together)
            plain.decr(inside_key)

    async def main() -> None:
        await asyncio.gather(*(turn() for _ in range(TURNS_PER_PROCESS)))

    asyncio.run(main())
    results.put(max(served))


def test_two_replicas_never_hold_one_conversation_at_once():
    tag = uuid.uuid4().hex[:8]
    conversation_id, counter_key, inside_key = f"web:lock-{tag}", f"test:counter:{tag}", f"test:inside:{tag}"
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=replica, args=(conversation_id, counter_key, inside_key, results))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=180)
        assert worker.exitcode == 0
    plain = redis.Redis.from_url(REDIS_URL)
    assert int(plain.get(counter_key)) == 2 * TURNS_PER_PROCESS  # no lost update
    assert [results.get(timeout=5) for _ in workers] == [1, 1]  # never two inside
    assert plain.exists(f"madoguchi:lock:{conversation_id}") == 0  # the last one out removed the lock
    plain.delete(counter_key, inside_key)


def test_tickets_taken_at_the_same_moment_are_all_different():
    store = AtomicRedisLockStore(url=REDIS_URL)
    conversation_id = f"web:tickets-{uuid.uuid4().hex[:8]}"

    async def take(count: int):
        return await asyncio.gather(*(store._async_issue(keys=store.keys(conversation_id), args=[30])
                                      for _ in range(count)))

    tickets = [int(t) for t in asyncio.run(take(200))]
    assert sorted(tickets) == list(range(1, 201))
    assert len(store.get_lock(conversation_id).tickets) == 200
    store.delete_lock(conversation_id)
    assert store.get_lock(conversation_id) is None


def test_turns_are_served_in_ticket_order():
    store = AtomicRedisLockStore(url=REDIS_URL)
    conversation_id = f"web:order-{uuid.uuid4().hex[:8]}"
    order = []

    async def turn(name: int) -> None:
        async with store.lock(conversation_id):
            order.append(name)
            await asyncio.sleep(0.001)

    async def main() -> None:
        tasks = []
        for name in range(10):
            tasks.append(asyncio.create_task(turn(name)))
            await asyncio.sleep(0.01)  # each takes its ticket before the next one asks
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert order == list(range(10))


def test_a_holder_that_vanished_does_not_block_the_conversation_forever():
    store = AtomicRedisLockStore(url=REDIS_URL)
    conversation_id = f"web:crashed-{uuid.uuid4().hex[:8]}"
    store.issue_ticket(conversation_id, lock_lifetime=0.3)  # a replica took a ticket and died

    async def next_turn() -> float:
        started = time.monotonic()
        async with store.lock(conversation_id):
            return time.monotonic() - started

    waited = asyncio.run(next_turn())
    assert 0.2 < waited < 5  # it waited for the dead ticket to expire, then went on


def test_a_waiter_whose_own_ticket_expired_gets_a_lock_error():
    store = AtomicRedisLockStore(url=REDIS_URL)
    conversation_id = f"web:expired-{uuid.uuid4().hex[:8]}"
    store.issue_ticket(conversation_id, lock_lifetime=30)  # someone holds it for long

    async def impatient() -> None:
        async with store.lock(conversation_id, lock_lifetime=0.2):
            pass

    with pytest.raises(LockError):
        asyncio.run(impatient())
    store.delete_lock(conversation_id)


def test_redis_unreachable_is_a_lock_error_not_a_crash():
    store = AtomicRedisLockStore(url="redis://127.0.0.1:1/0")

    async def turn() -> None:
        async with store.lock("web:nobody"):
            pass

    with pytest.raises(LockError):
        asyncio.run(turn())


def test_the_server_takes_its_turn_locks_in_redis(server):
    """The session server runs with MADOGUCHI_REDIS_URL: quick messages to one conversation are all
    answered, in order, and no lock is left behind."""
    from concurrent.futures import ThreadPoolExecutor

    sender = f"lock-{uuid.uuid4().hex[:8]}"
    server.say(sender, "こんにちは")  # the conversation exists before the burst
    questions = ["住民票の手数料は", "マイナンバーカードをなくした", "転入届の持ち物", "ありがとう"]
    with ThreadPoolExecutor(len(questions)) as pool:
        replies = list(pool.map(lambda text: server.say(sender, text), questions))
    assert all(reply for reply in replies)  # every turn answered
    users = [e["text"] for e in server.tracker(sender)["events"] if e["event"] == "user"]
    assert sorted(users[1:]) == sorted(questions)  # each recorded once
    plain = redis.Redis.from_url(REDIS_URL)
    assert not plain.keys(f"madoguchi:lock:rest:{sender}*")  # released


def test_a_turn_waits_while_another_replica_holds_the_conversation(server):
    """A ticket taken in Redis by 'another replica' holds this server's turn until it is released."""
    from concurrent.futures import ThreadPoolExecutor

    sender = f"held-{uuid.uuid4().hex[:8]}"
    store = AtomicRedisLockStore(url=REDIS_URL)
    ticket = store.issue_ticket(f"rest:{sender}", lock_lifetime=60)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(server.say, sender, "住民票の手数料は")
        time.sleep(1.0)
        assert not pending.done()  # waiting for the other replica's turn
        store.finish_serving(f"rest:{sender}", ticket)
        assert pending.result(timeout=60)  # then answered
