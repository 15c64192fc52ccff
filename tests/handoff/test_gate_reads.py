"""The gate's cost per turn: one handoff read, and still the live update when a turn queues."""
import asyncio

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from sqlalchemy import event

from bot.catalog.provider import CatalogProvider
from bot.handoff.gate import HandoffGate
from bot.handoff.hub import EventHub
from bot.handoff.machine import HandoffService
from bot.settings import Settings
from bot.store import Database


def gate_on(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'gate.db'}")
    db.create_tables()
    service = HandoffService(db)
    hub = EventHub()
    gate = HandoffGate(service, hub, CatalogProvider(Settings.from_env().catalog_dir), agent=lambda: None)
    return db, service, hub, gate


def handoff_reads(db):
    """Every SELECT on the handoffs table, as the database sees it."""
    reads = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT") and "handoffs" in statement:
            reads.append(statement)

    return reads


def test_a_bot_turn_reads_the_handoff_once(tmp_path):
    db, _service, hub, gate = gate_on(tmp_path)
    reads = handoff_reads(db)
    answered = []

    async def rasa(message):  # stands in for Agent.handle_message: the bot answers, no handoff
        answered.append(message.text)

    message = UserMessage("住民票がほしい", CollectingOutputChannel(), "rest:gate-1", input_channel="rest")
    asyncio.run(gate.handle(rasa, message))
    assert answered == ["住民票がほしい"]
    assert len(reads) == 1


def test_a_turn_that_queues_tells_the_consoles_without_reading_again(tmp_path):
    db, service, hub, gate = gate_on(tmp_path)
    reads = handoff_reads(db)
    console = hub.subscribe()

    async def rasa(message):  # as the action does: the transition runs in a worker thread
        await asyncio.to_thread(service.request, message.sender_id, "rest", "shimin", "ja", "request", {})

    asyncio.run(gate.handle(rasa, UserMessage("人と話したい", CollectingOutputChannel(), "rest:gate-2",
                                              input_channel="rest")))
    assert console.get_nowait() == {"type": "queue_changed", "conversation_id": "rest:gate-2", "state": "queued"}
    # The gate's read and the request's own row lock; no read of the state afterwards.
    assert len(reads) == 2
    assert service.state("rest:gate-2") == "queued"


def test_a_turn_that_changes_nothing_tells_nobody(tmp_path):
    _db, service, hub, gate = gate_on(tmp_path)
    service.request("rest:gate-3", "rest", "shimin", "ja", "request", {})
    service.claim("rest:gate-3", 1)
    service.handback("rest:gate-3")
    console = hub.subscribe()

    async def rasa(message):
        return None

    asyncio.run(gate.handle(rasa, UserMessage("ありがとう", CollectingOutputChannel(), "rest:gate-3",
                                              input_channel="rest")))
    assert console.empty()
