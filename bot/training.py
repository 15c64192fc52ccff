"""Compile the catalog and train a Rasa model, reusing it when nothing changed; evaluate a
model file on the held-out set. Progress goes to an optional callback (the admin console's
training job reads it from the `madoguchi catalog train --progress-json` subprocess)."""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from bot.catalog import load_catalog
from bot.catalog.compile import COMPILER_VERSION, compile_catalog
from bot.settings import Settings

logger = logging.getLogger(__name__)


def fingerprint(files: Dict[str, Path]) -> str:
    """Hash of everything training depends on (compiled files, tokenizer code, versions).

    It lives here, not in the compiler, because it reads the NLU component's source: the
    catalog package stays below the NLU package (see bot/__init__.py).
    """
    import rasa

    from bot import speech_text, text
    from bot.nlu import japanese_tokenizer

    digest = hashlib.sha256()
    digest.update(f"rasa={rasa.__version__};compiler={COMPILER_VERSION}".encode())
    for key in sorted(files):
        digest.update(key.encode() + b"\0" + files[key].read_bytes() + b"\0")
    # The NLU component and its text rules.
    for source in (japanese_tokenizer.__file__, text.__file__, speech_text.__file__):
        digest.update(Path(source).read_bytes())
    return digest.hexdigest()[:16]


class ModelTarget(NamedTuple):
    fingerprint: str
    path: Path  # where the model for this fingerprint is (or will be) stored
    files: Dict[str, Path]  # the compiled Rasa files it is trained from


def model_path_for(settings: Settings) -> ModelTarget:
    """Compile and say where the model for the current catalog belongs, without training."""
    catalog = load_catalog(settings.catalog_dir)
    files = compile_catalog(catalog, settings.build_dir, epochs=settings.train_epochs)
    fp = fingerprint(files)
    return ModelTarget(fp, settings.models_dir / f"madoguchi-{fp}.tar.gz", files)


# A progress event: {"phase": compiling|training|evaluating, "epoch", "epochs", "done", "total"}.
Progress = Callable[[Dict[str, Any]], None]


def _no_progress(_event: Dict[str, Any]) -> None:
    pass


@contextlib.contextmanager
def epoch_progress(progress: Progress) -> Iterator[None]:
    """Report DIET's epochs: Rasa shows them only as a tqdm bar (RasaTrainingLogger), so its
    two methods are wrapped for the duration of one training (this process only)."""
    from rasa.utils.tensorflow.callback import RasaTrainingLogger

    original_init, original_end = RasaTrainingLogger.__init__, RasaTrainingLogger.on_epoch_end

    def init(self: Any, epochs: int, silent: bool) -> None:
        original_init(self, epochs, silent)
        self.madoguchi_epochs = epochs
        progress({"phase": "training", "epoch": 0, "epochs": epochs})

    def on_epoch_end(self: Any, epoch: int, logs: Optional[Dict[str, Any]] = None) -> None:
        original_end(self, epoch, logs)
        progress({"phase": "training", "epoch": epoch + 1, "epochs": self.madoguchi_epochs})

    RasaTrainingLogger.__init__ = init
    RasaTrainingLogger.on_epoch_end = on_epoch_end
    try:
        yield
    finally:
        RasaTrainingLogger.__init__ = original_init
        RasaTrainingLogger.on_epoch_end = original_end


def ensure_model(settings: Settings, force: bool = False, print_fn=print,
                 progress: Progress = _no_progress) -> Path:
    """Path of a model trained on the current catalog, training only if needed."""
    return train_catalog(settings, force, print_fn, progress)[0]


def train_catalog(settings: Settings, force: bool = False, print_fn=print,
                  progress: Progress = _no_progress) -> Tuple[Path, str, bool]:
    """(model path, catalog fingerprint, whether it was trained now) for the current catalog."""
    progress({"phase": "compiling"})
    fp, target, files = model_path_for(settings)
    if target.exists() and not force:
        print_fn(f"model up to date: {target.name}")
        return target, fp, False
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    from rasa.model_training import train

    settings.models_dir.mkdir(parents=True, exist_ok=True)
    print_fn(f"training model {target.name} (catalog changed) …")
    progress({"phase": "training", "epoch": None, "epochs": None})
    started = time.monotonic()
    with epoch_progress(progress):
        result = train(
            domain=str(files["domain"]),
            config=str(files["config"]),
            training_files=[str(files["nlu"]), str(files["rules"])],
            output=str(settings.models_dir),
            fixed_model_name=f"madoguchi-{fp}",
            force_training=True,
        )
    if result.code != 0 or not result.model:
        raise RuntimeError(f"training failed (code {result.code})")
    if Path(result.model) != target:
        shutil.move(result.model, target)
    print_fn(f"trained in {time.monotonic() - started:.1f} s → {target}")
    return target, fp, True


def evaluate_model(model_path: Path, heldout_files: Sequence[Path],
                   progress: Progress = _no_progress) -> Dict[str, Any]:
    """Load a model file on its own (not the one serving) and score it on the held-out sentences."""
    from rasa.core.agent import Agent

    from bot.catalog.compile import FALLBACK_THRESHOLD
    from bot.nlu.evaluate import load_heldout, predict_all, report

    progress({"phase": "evaluating", "done": 0, "total": None})
    examples: List[Tuple[str, str]] = [item for path in heldout_files for item in load_heldout(path)]
    agent = Agent()
    agent.load_model(str(model_path))
    loop = asyncio.new_event_loop()
    done = 0

    def parse(text: str) -> Dict[str, Any]:
        nonlocal done
        result = loop.run_until_complete(agent.parse_message(text))
        done += 1
        if done % 20 == 0 or done == len(examples):
            progress({"phase": "evaluating", "done": done, "total": len(examples)})
        return result

    try:
        predictions = predict_all(examples, parse)
    finally:
        loop.close()
    return report(predictions, FALLBACK_THRESHOLD, [Path(path).name for path in heldout_files])
