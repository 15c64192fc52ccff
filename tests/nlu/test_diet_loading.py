"""bot/nlu/diet.py: the model loaded for answering (no training step) answers exactly like
the model loaded Rasa's way, on every held-out sentence; loading it leaves the running model's
TensorFlow kernels and the process's random state alone."""
from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any, List, Tuple

import numpy
import pytest
from rasa.core.channels import UserMessage
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.processor import MessageProcessor
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.shared.core.domain import Domain

from bot.nlu.diet import FastLoadingDIETClassifier
from bot.nlu.evaluate import load_heldout
from bot.settings import PROJECT_ROOT

HELDOUT = PROJECT_ROOT / "tests" / "data" / "nlu_heldout.yml"


def load(model: Path) -> MessageProcessor:
    return MessageProcessor(model_path=str(model), tracker_store=InMemoryTrackerStore(Domain.empty()),
                            lock_store=InMemoryLockStore(), generator=None)


def diet_model(processor: MessageProcessor) -> Any:
    nodes = processor.graph_runner._instantiated_nodes.values()  # type: ignore[attr-defined]
    return next(node._component.model for node in nodes if isinstance(node._component, FastLoadingDIETClassifier))


def rankings(processor: MessageProcessor, texts: List[str]) -> List[List[Tuple[str, float]]]:
    async def parse_all() -> List[List[Tuple[str, float]]]:
        parsed = [await processor.parse_message(UserMessage(text)) for text in texts]
        return [[(r["name"], r["confidence"]) for r in p["intent_ranking"]] for p in parsed]
    return asyncio.run(parse_all())


@pytest.fixture(scope="module")
def both_ways(trained_model: Path) -> Tuple[MessageProcessor, MessageProcessor]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FastLoadingDIETClassifier, "_load_model_class",
                      classmethod(DIETClassifier._load_model_class.__func__))  # type: ignore[attr-defined]
        rasa_way = load(trained_model)
    # Second, as in a publish: Keras has named layers before (the checkpoint must not care).
    fast = load(trained_model)
    return fast, rasa_way


def test_the_fast_load_never_traces_the_training_graph(both_ways):
    fast, rasa_way = both_ways
    assert diet_model(fast).train_function is None
    assert diet_model(rasa_way).train_function is not None  # the fixture really loaded Rasa's way


def test_every_weight_answering_uses_is_restored(both_ways):
    fast, rasa_way = both_ways
    fast_weights = diet_model(fast).trainable_weights
    assert len(fast_weights) == len(diet_model(rasa_way).trainable_weights) > 0


def test_held_out_answers_are_identical_to_rasas_way_of_loading(both_ways):
    texts = [text for text, _ in load_heldout(HELDOUT)] + ["ほげほげ", "asdfghjkl", "🙂", "住民票"]
    fast, rasa_way = both_ways
    fast_rankings, rasa_rankings = rankings(fast, texts), rankings(rasa_way, texts)
    for text, ours, theirs in zip(texts, fast_rankings, rasa_rankings, strict=True):
        assert [name for name, _ in ours] == [name for name, _ in theirs], text
        assert [confidence for _, confidence in ours] == pytest.approx([c for _, c in theirs], abs=1e-6), text


def test_loading_beside_a_running_model_keeps_its_kernels_and_the_random_state(both_ways, trained_model, monkeypatch):
    """Rasa's constructor clears the Keras session and reseeds TensorFlow, which empties the eager
    kernel cache: the running model's next answer (a resident's turn) rebuilt its kernels, ≈100 ms."""
    from tensorflow.python import pywrap_tfe

    cleared: List[int] = []
    clear_caches = pywrap_tfe.TFE_ContextClearCaches
    monkeypatch.setattr(pywrap_tfe, "TFE_ContextClearCaches", lambda handle: cleared.append(1) or clear_caches(handle))
    python_state, numpy_state = random.getstate(), numpy.random.get_state()
    load(trained_model)
    assert cleared == []
    assert random.getstate() == python_state
    assert all(numpy.array_equal(a, b) for a, b in zip(numpy.random.get_state(), numpy_state, strict=True))
    # Rasa's way does clear them (this test would see it).
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FastLoadingDIETClassifier, "_load_model_class",
                      classmethod(DIETClassifier._load_model_class.__func__))  # type: ignore[attr-defined]
        load(trained_model)
    assert cleared
