"""Switch the running server to another model with no restart and no dropped turn.

The new model is loaded in a worker thread (≈30 s of TensorFlow work) while the old agent
keeps answering; then, in one synchronous step on the event loop (no `await`, so no turn can
run in between), a new Agent sharing the old one's tracker store, lock store, action endpoint
and NLG takes its place in `app.ctx.agent`. Turns already running finish on the old agent;
every message after the swap is handled by the new one, still behind the handoff gate,
which looks the agent up per message (bot/server.py register_channels)."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any


def load_processor(current: Any, model_path: Path) -> Any:
    """The new model's MessageProcessor on the running agent's stores (blocking: worker thread)."""
    from rasa.core.processor import MessageProcessor

    return MessageProcessor(model_path=str(model_path), tracker_store=current.tracker_store,
                            lock_store=current.lock_store, generator=current.nlg,
                            action_endpoint=current.action_endpoint, http_interpreter=current.http_interpreter)


def swap(app: Any, current: Any, processor: Any) -> Any:
    """Put an agent with `processor` in place of `current`. Synchronous on purpose (atomic on the loop)."""
    from rasa.core.agent import Agent
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator

    agent = Agent(domain=processor.domain, generator=current.nlg, lock_store=current.lock_store,
                  action_endpoint=current.action_endpoint, model_server=current.model_server,
                  remote_storage=current.remote_storage, http_interpreter=current.http_interpreter)
    agent.tracker_store = current.tracker_store  # the same store object: no conversation is lost or copied
    agent.processor = processor
    current.tracker_store.domain = processor.domain
    if isinstance(current.nlg, TemplatedNaturalLanguageGenerator):
        current.nlg.responses = processor.domain.responses
    app.ctx.agent = agent
    return agent


async def load_and_swap(app: Any, model_path: Path) -> Any:
    current = app.ctx.agent
    processor = await asyncio.to_thread(load_processor, current, model_path)
    if app.ctx.agent is not current:  # someone (Rasa's PUT /model) swapped meanwhile: build on theirs
        current = app.ctx.agent
    return swap(app, current, processor)
