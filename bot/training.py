"""Compile the catalog and train a Rasa model, reusing it when nothing changed."""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Dict, NamedTuple

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
    files = compile_catalog(catalog, settings.build_dir)
    fp = fingerprint(files)
    return ModelTarget(fp, settings.models_dir / f"madoguchi-{fp}.tar.gz", files)


def ensure_model(settings: Settings, force: bool = False, print_fn=print) -> Path:
    """Path of a model trained on the current catalog, training only if needed."""
    fp, target, files = model_path_for(settings)
    if target.exists() and not force:
        print_fn(f"model up to date: {target.name}")
        return target
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    from rasa.model_training import train

    settings.models_dir.mkdir(parents=True, exist_ok=True)
    print_fn(f"training model {target.name} (catalog changed) …")
    started = time.monotonic()
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
    return target
