"""Compile the catalog and train a Rasa model, reusing it when nothing changed."""
from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from bot.catalog import load_catalog
from bot.catalog.compile import compile_catalog, fingerprint
from bot.settings import Settings

logger = logging.getLogger(__name__)


def model_path_for(settings: Settings) -> tuple:
    """Compile and return (fingerprint, model path) without training."""
    catalog = load_catalog(settings.catalog_dir)
    files = compile_catalog(catalog, settings.build_dir)
    fp = fingerprint(files)
    return fp, settings.models_dir / f"madoguchi-{fp}.tar.gz", files


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
