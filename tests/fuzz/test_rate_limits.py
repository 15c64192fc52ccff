"""Per-sender rate limits (bot/ratelimit.py): a flood from one sender is limited, others are not,
and the limit resets with the window; across replicas through Redis, in-process without it."""
import asyncio
import functools
import time
import uuid

import httpx
import pytest

from bot.catalog import load_catalog
from bot.ratelimit import RateLimiter
from bot.settings import Settings
from tests.conftest import REDIS_URL
from tests.fuzz.conftest import ADDRESS_LIMIT, CONVERSATION_LIMIT, WINDOW_SECONDS


@functools.lru_cache(maxsize=None)
def limited_phrase(language: str = "ja") -> str:
    # Loaded once: loading the catalog (≈2 s with the FAQ) inside a flood would outlast its window.
    return load_catalog(Settings().catalog_dir).phrase("rate_limited", language)


def at_window_start(window: float = WINDOW_SECONDS) -> None:
    """Wait for a fresh window, so a whole flood falls into one."""
    time.sleep(window - time.time() % window + 0.05)


def say(server, sender: str, text: str, address: str = "") -> httpx.Response:
    headers = {"X-Forwarded-For": address} if address else {}
    return httpx.post(f"{server.base_url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                      headers=headers, timeout=60)


def user_texts(server, conversation_id: str):
    tracker = httpx.get(f"{server.base_url}/conversations/{conversation_id}/tracker",
                        params={"token": server.token}, timeout=60).json()
    return [e.get("text") for e in tracker["events"] if e["event"] == "user"]


def reply_text(reply: httpx.Response) -> str:
    return "\n".join(m.get("text") or "" for m in reply.json())


def test_a_flood_from_one_conversation_gets_the_polite_reply_and_never_reaches_rasa(hostile_server):
    flooder, other = f"flood-{uuid.uuid4().hex[:8]}", f"calm-{uuid.uuid4().hex[:8]}"
    at_window_start()
    for n in range(CONVERSATION_LIMIT):
        reply = say(hostile_server, flooder, f"住民票の取り方 {n}")
        assert reply.status_code == 200 and limited_phrase() not in reply_text(reply)
    for n in range(3):
        over = say(hostile_server, flooder, f"まだ送る {n}")
        assert over.status_code == 200, over.text
        assert limited_phrase() in reply_text(over)
        assert over.json()[0].get("lang") == "ja"
    # Rasa saw only the messages within the limit (all in one window: the flood took under WINDOW_SECONDS).
    texts = user_texts(hostile_server, f"rest:{flooder}")
    assert len(texts) == CONVERSATION_LIMIT and not any(t.startswith("まだ送る") for t in texts)
    # Another resident is not affected.
    calm = say(hostile_server, other, "住民票の取り方")
    assert calm.status_code == 200 and limited_phrase() not in reply_text(calm)
    # The next window lets the flooder in again.
    at_window_start()
    again = say(hostile_server, flooder, "住民票の取り方")
    assert limited_phrase() not in reply_text(again)
    assert len(user_texts(hostile_server, f"rest:{flooder}")) == CONVERSATION_LIMIT + 1


def test_a_telegram_flood_gets_the_polite_reply_through_the_bot_api(hostile_server):
    """The limit sits in the gate every channel passes: a messaging app's resident is limited the same way."""
    from tests.fuzz.conftest import TELEGRAM_SECRET

    chat_id = uuid.uuid4().int % 10**9 + 10**9
    at_window_start()
    for n in range(CONVERSATION_LIMIT + 1):
        update = {"update_id": uuid.uuid4().int % 10**9, "message": {
            "message_id": n + 1, "date": int(time.time()), "chat": {"id": chat_id, "type": "private"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "flood"}, "text": f"住民票 {n}"}}
        reply = httpx.post(f"{hostile_server.base_url}/webhooks/telegram/webhook", json=update,
                           headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}, timeout=60)
        assert reply.status_code == 200
    sent = [c.params.get("text") or "" for c in hostile_server.telegram.sent(chat_id, "sendMessage")]
    assert limited_phrase() in sent[-1] and not any(limited_phrase() in text for text in sent[:-1])
    assert len(user_texts(hostile_server, f"telegram:{chat_id}")) == CONVERSATION_LIMIT


def test_a_flood_from_one_address_gets_429_with_retry_after(hostile_server):
    address, other_address = "203.0.113.7", "203.0.113.8"
    senders = [f"addr-{uuid.uuid4().hex[:8]}" for _ in range(ADDRESS_LIMIT + 1)]
    at_window_start()
    for sender in senders[:ADDRESS_LIMIT]:
        assert say(hostile_server, sender, "こんにちは", address).status_code == 200
    refused = say(hostile_server, senders[-1], "こんにちは", address)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= WINDOW_SECONDS
    assert refused.json()["error"] == "rate_limited" and limited_phrase("en") in refused.json()["message"]
    assert user_texts(hostile_server, f"rest:{senders[-1]}") == []  # never processed
    # The web channel's message route counts for the same address.
    web = httpx.post(f"{hostile_server.base_url}/webhooks/web/message", json={"message": "こんにちは"},
                     headers={"X-Forwarded-For": address}, timeout=60)
    assert web.status_code == 429
    assert say(hostile_server, senders[-1], "こんにちは", other_address).status_code == 200
    at_window_start()
    assert say(hostile_server, senders[-1], "こんにちは", address).status_code == 200


def unique_scope() -> str:
    return f"test-{uuid.uuid4().hex}"


def test_replicas_share_the_count_through_redis():
    async def run():
        scope = unique_scope()
        replicas = [RateLimiter(scope, 5, 30, REDIS_URL) for _ in range(2)]
        if time.time() % 30 > 25:  # all seven hits in one window
            at_window_start(30)
        results = [await replicas[n % 2].hit("web:someone") for n in range(7)]
        other = await replicas[0].hit("web:someone-else")
        for limiter in replicas:
            await limiter.close()
        return results, other

    results, other = asyncio.run(run())
    assert results[:5] == [None] * 5 and all(r is not None and r > 0 for r in results[5:])
    assert other is None


@pytest.mark.parametrize("redis_url", ["", "redis://127.0.0.1:1/0"])  # none, and one that cannot be reached
def test_without_redis_the_process_counts_alone(redis_url):
    now = [1000.0]
    limiter = RateLimiter(unique_scope(), 2, 10, redis_url, clock=lambda: now[0])

    async def hits(n):
        return [await limiter.hit("line:U1") for _ in range(n)]

    assert asyncio.run(hits(3)) == [None, None, 10.0]
    now[0] = 1010.0  # the next window
    assert asyncio.run(hits(1)) == [None]


def test_no_redis_key_names_the_sender():
    import redis

    async def run():
        limiter = RateLimiter(unique_scope(), 5, 30, REDIS_URL)
        await limiter.hit("telegram:424242")
        await limiter.close()

    asyncio.run(run())
    keys = [k.decode() for k in redis.Redis.from_url(REDIS_URL).keys("madoguchi:ratelimit:*")]
    assert keys and not any("424242" in k for k in keys)
