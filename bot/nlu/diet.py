"""Rasa's DIETClassifier, loaded for answering in a third of the time.

Rasa's `RasaModel.load` builds the model's weights by training one step on one example, which
traces the whole training graph with its gradients (≈5 s of Python holding the GIL), and then
reads the checkpoint over those weights. Answering needs only the prediction graph: reading the
checkpoint into the model before it is built defers each variable's restore until the variable
is created, and the one prediction Rasa runs anyway to trace that graph creates them all. Same
weights, same answers (tests/nlu/test_diet_loading.py), ≈2 s instead of ≈7 s: a publish in the
admin console and every server start slow the residents' turns for a much shorter time.

It also leaves the process's TensorFlow state alone. Rasa's model constructor clears the Keras
session and seeds Python, NumPy and TensorFlow; both empty the eager kernel cache of the whole
process, so the running model's next answer (a resident's turn, during a publish) rebuilt its
prediction kernel: ≈100 ms of that turn's CPU. A model loaded for answering needs neither (the
checkpoint is matched by object paths, not layer names, and a prediction draws no random numbers).

Training, fine-tuning and the files written are Rasa's own. The class name is the name of the
weights file inside a model (`FastLoadingDIETClassifier.tf_model`): renaming it means retraining.
"""
from __future__ import annotations

import contextlib
import copy
from typing import Any, Dict, Iterator, List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.nlu.extractors.extractor import EntityTagSpec
from rasa.shared.nlu.constants import TEXT
from rasa.utils.tensorflow.constants import LEARNING_RATE, RUN_EAGERLY
from rasa.utils.tensorflow.model_data import RasaModelData
from rasa.utils.tensorflow.models import RasaModel


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class FastLoadingDIETClassifier(DIETClassifier):
    @classmethod
    def _load_model_class(cls, tf_model_file: Text, model_data_example: RasaModelData,
                          label_data: RasaModelData, entity_tag_specs: List[EntityTagSpec],
                          config: Dict[Text, Any], finetune_mode: bool) -> RasaModel:
        if finetune_mode:  # further training needs the optimizer's state: Rasa's way
            return super()._load_model_class(tf_model_file, model_data_example, label_data,
                                             entity_tag_specs, config, finetune_mode)
        predict_data_example = RasaModelData(
            label_key=model_data_example.label_key,
            data={name: features for name, features in model_data_example.items() if TEXT in name})
        return load_for_prediction(
            cls.model_class(), tf_model_file, predict_data_example,
            data_signature=model_data_example.get_signature(), label_data=label_data,
            entity_tag_specs=entity_tag_specs, config=copy.deepcopy(config))


def load_for_prediction(model_class: Any, tf_model_file: Text, predict_data_example: RasaModelData,
                        **model_arguments: Any) -> RasaModel:
    """A RasaModel with the checkpoint's weights, built by one prediction instead of one training step."""
    import tensorflow as tf

    with keras_session_kept():
        model = without_seeding(model_class)(**model_arguments)
    config = model_arguments["config"]
    model.compile(optimizer=tf.keras.optimizers.Adam(config.get(LEARNING_RATE, 0.001)),
                  run_eagerly=config.get(RUN_EAGERLY))
    restoring = model.load_weights(tf_model_file)  # deferred: each variable is restored when created
    model.run_inference(predict_data_example)  # creates every variable answering uses
    restoring.expect_partial()  # the optimizer's slots are in the file but answering never needs them
    return model


@contextlib.contextmanager
def keras_session_kept() -> Iterator[None]:
    """`tf.keras.backend.clear_session()` does nothing meanwhile (RasaModel's constructor calls it).
    Only the thread loading a model constructs one, and one model loads at a time."""
    import tensorflow as tf

    backend = tf.keras.backend
    clear_session = backend.clear_session
    backend.clear_session = lambda: None
    try:
        yield
    finally:
        backend.clear_session = clear_session


def without_seeding(model_class: Any) -> Any:
    """`model_class` whose constructor does not reseed the process (same name: same layer names)."""
    return type(model_class.__name__, (model_class,), {"_set_random_seed": _keep_the_seeds,
                                                       "__module__": model_class.__module__})


def _keep_the_seeds(self: Any) -> None:
    """Training's seeds are no use to a prediction, and setting them empties TensorFlow's kernel cache."""
