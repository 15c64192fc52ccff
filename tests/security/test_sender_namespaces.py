"""Every channel owns its conversations (issue 7, finding 2), over real HTTP.

A REST client used to be able to write to `telegram:<chat id>` and so act as that resident.
Now REST conversation ids are always `rest:<sender>`, ids of other channels are refused with
403 (and nothing reaches the Telegram conversation), and MADOGUCHI_REST_TOKEN closes the channel.
"""
from __future__ import annotations

import itertools
import random
import sqlite3
import time

import httpx
import pytest

from channels.telegram import SECRET_HEADER
from tests.conftest import CLOSED_TELEGRAM_SECRET, REST_TOKEN, texts

_ids = itertools.count(random.randrange(10_000, 1_000_000))


def telegram_says(closed_server, chat_id: int, text: str) -> None:
    """A private-chat message posted to our webhook exactly as Telegram would."""
    update = {"update_id": next(_ids),
              "message": {"message_id": next(_ids), "date": int(time.time()), "text": text,
                          "chat": {"id": chat_id, "type": "private", "first_name": "花子"},
                          "from": {"id": chat_id, "is_bot": False, "first_name": "花子"}}}
    reply = httpx.post(f"{closed_server.base_url}/webhooks/telegram/webhook", json=update,
                       headers={SECRET_HEADER: CLOSED_TELEGRAM_SECRET}, timeout=60)
    assert reply.status_code == 200, reply.text


def stored_events(closed_server, sender: str) -> list:
    with sqlite3.connect(closed_server.database) as database:
        return database.execute("select type_name, data from events where sender_id = ? order by id",
                                (sender,)).fetchall()


def test_rest_cannot_write_to_a_telegram_conversation(closed_server):
    chat_id = random.randrange(10**8, 10**10)
    telegram_says(closed_server, chat_id, "人と話したい")  # she is now waiting for a clerk
    before = stored_events(closed_server, f"telegram:{chat_id}")
    sent_before = len(closed_server.telegram.sent(chat_id))
    assert before and sent_before

    for sender in (f"telegram:{chat_id}", f"Telegram:{chat_id}", f"TELEGRAM:{chat_id}"):
        for text in ("/cancel_handoff", "/repeat", "/visit_slip"):
            reply = closed_server.say(sender, text)
            assert reply.status_code == 403, reply.text
            assert reply.json()["error"] == "foreign_sender" and "telegram" in reply.json()["message"]

    assert stored_events(closed_server, f"telegram:{chat_id}") == before      # her conversation is untouched
    assert len(closed_server.telegram.sent(chat_id)) == sent_before          # and nothing was sent to her


@pytest.mark.parametrize("sender", ["line:U" + "0" * 32, "web:" + "a" * 32, "web-" + "b" * 32, "voice:CA" + "c" * 32])
def test_rest_cannot_write_to_other_channels(closed_server, sender):
    reply = closed_server.say(sender, "こんにちは")
    assert reply.status_code == 403 and reply.json()["error"] == "foreign_sender"
    assert stored_events(closed_server, sender) == []


def test_rest_senders_live_in_the_rest_namespace(closed_server):
    plain = f"me-{random.randrange(10**9)}"
    assert closed_server.say(plain, "住民票がほしい").status_code == 200
    assert stored_events(closed_server, f"rest:{plain}")       # `me` became `rest:me`
    assert stored_events(closed_server, plain) == []
    # An id that already carries `rest:` is kept, not double-prefixed: the same conversation.
    follow_up = closed_server.say(f"rest:{plain}", "手数料は？")
    assert follow_up.status_code == 200 and "300" in texts(follow_up.json())
    assert stored_events(closed_server, f"rest:rest:{plain}") == []


def test_the_rest_channel_needs_its_token_when_one_is_set(closed_server):
    assert closed_server.say("tokenless", "こんにちは", token=None).status_code == 401
    assert closed_server.say("tokenless", "こんにちは", token="wrong").status_code == 401
    assert closed_server.say("tokenless", "こんにちは", token=REST_TOKEN[:-1]).status_code == 401
    refused = httpx.post(f"{closed_server.base_url}/webhooks/rest/webhook", params={"token": "wrong"},
                         json={"sender": "tokenless", "message": "こんにちは"}, timeout=60)
    assert refused.status_code == 401 and refused.json()["error"] == "not_authenticated"
    assert stored_events(closed_server, "rest:tokenless") == []
    # The right token, as a Bearer header or as `?token=`.
    assert closed_server.say("with-token", "こんにちは").status_code == 200
    as_query = httpx.post(f"{closed_server.base_url}/webhooks/rest/webhook", params={"token": REST_TOKEN},
                          json={"sender": "with-token", "message": "住民票がほしい"}, timeout=60)
    assert as_query.status_code == 200 and as_query.json()


def test_without_a_rest_token_the_channel_stays_open(server):
    """The default (a local server): no REST token needed; ids still get the `rest:` prefix."""
    assert server.say("open-rest", "住民票がほしい")
    assert server.tracker("open-rest")["sender_id"] == "rest:open-rest"


def test_the_staff_console_opens_namespaced_conversations_sent_encoded(server):
    """Browsers send `rest:x` in a path as `rest%3Ax`; the staff API decodes it (the console used to 404)."""
    from tests.handoff.conftest import add_account, login

    username = f"ns{random.randrange(10**9)}"
    add_account(server, username, "staff", "中村")
    clerk = login(server, username)
    sender = f"console-{random.randrange(10**9)}"
    server.say(sender, "人と話したい")
    opened = clerk.client.get(f"/staff/api/conversations/rest%3A{sender}")
    assert opened.status_code == 200 and opened.json()["handoff"]["conversation_id"] == f"rest:{sender}"
    claimed = clerk.client.post(f"/staff/api/conversations/rest%3A{sender}/claim", headers={"X-CSRF-Token": clerk.csrf})
    assert claimed.status_code == 200, claimed.text
