"""The models of the catalog: `madoguchi train`, `catalog train|evaluate|publish|rollback|history`."""
from __future__ import annotations

import json
import sys
from typing import Any, Dict, Optional

from bot.cli.catalog import cmd_check
from bot.cli.common import ProgressPrinter, audit, model_registry, operator, quiet_rasa, report_pruned
from bot.settings import Settings


def cmd_train(settings: Settings, args) -> int:
    """The one-step way (`make run`): train if the catalog changed, register the model and make
    it the one the next `madoguchi serve` starts with."""
    from bot.training import train_catalog

    if cmd_check(settings, args):
        return 1
    path, fingerprint, trained = train_catalog(settings, force=args.force)
    registry = model_registry(settings)
    model = registry.register(path, fingerprint, operator(), retrained=trained)
    registry.mark_published(model.id, operator())
    report_pruned(registry.prune_files())
    return 0


def cmd_catalog_train(settings: Settings, args) -> int:
    """Train (or reuse the model of this exact catalog), register it, evaluate it. Not published."""
    import fcntl

    from bot.admin.models import HELDOUT_FILES
    from bot.training import evaluate_model, train_catalog

    if cmd_check(settings, args):
        return 1
    quiet_rasa(settings)
    progress = ProgressPrinter(args.progress_json)
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.models_dir / ".training.lock", "w") as lock:
        try:  # one training at a time, whoever starts it (CLI or console)
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("error: another training is running (models/.training.lock)", file=sys.stderr)
            return 3
        path, fingerprint, trained = train_catalog(settings, force=args.force, progress=progress)
    registry = model_registry(settings)
    trained_by = args.trained_by or operator()
    model = registry.register(path, fingerprint, trained_by, retrained=trained)
    progress({"phase": "registered", "model": model.id})
    report_pruned(registry.prune_files())
    audit(settings, "model.train", {"model": model.id, "fingerprint": fingerprint, "trained": trained},
          actor=trained_by)
    if not model.evaluated and not args.no_evaluate:
        evaluation = evaluate_model(path, HELDOUT_FILES, progress)
        registry.save_evaluation(model.id, evaluation)
        print(f"model {model.id} ({fingerprint}): accuracy {evaluation['accuracy']:.3f}, "
              f"macro F1 {evaluation['macro_f1']:.3f}", flush=True)
    else:
        print(f"model {model.id} ({fingerprint}) registered", flush=True)
    return 0


def cmd_catalog_evaluate(settings: Settings, args) -> int:
    """Evaluate models (default: the newest) on the held-out set; side by side with the
    published one; the result is stored with each model, so it is computed once."""
    from bot.admin.models import HELDOUT_FILES
    from bot.training import evaluate_model

    registry = model_registry(settings)
    ids = args.ids or ([registry.latest().id] if registry.latest() else [])
    if not ids:
        print("error: no model registered yet: run `madoguchi catalog train`", file=sys.stderr)
        return 1
    quiet_rasa(settings)
    progress = ProgressPrinter(args.progress_json)
    published = registry.published()
    wanted = list(ids) + ([published.id] if published and published.id not in ids and not args.progress_json else [])
    reports = {}
    for model_id in wanted:
        model = registry.get(model_id)
        if model is None or not model.available:
            print(f"error: model {model_id} does not exist (or its file is gone)", file=sys.stderr)
            return 1
        report = registry.evaluation(model_id)
        if report is None or args.again:
            registry.save_evaluation(model_id, evaluate_model(model.path, HELDOUT_FILES, progress))
            report = registry.evaluation(model_id)
        reports[model_id] = report
    if args.json:
        print(json.dumps(reports, ensure_ascii=False, indent=1))
    elif not args.progress_json:
        print_side_by_side(reports, ids[0], published.id if published else None)
    return 0


def print_side_by_side(reports: Dict[int, Dict[str, Any]], model_id: int, published_id: Optional[int]) -> None:
    new = reports[model_id]
    old = reports.get(published_id) if published_id is not None and published_id != model_id else None
    header = f"{'intent':32} {'P':>5} {'R':>5} {'F1':>5}" + (f"   | published {published_id}: F1" if old else "")
    print(f"model {model_id}: accuracy {new['accuracy']:.3f}, macro F1 {new['macro_f1']:.3f}"
          + (f"   (published model {published_id}: {old['accuracy']:.3f}, {old['macro_f1']:.3f})" if old else ""))
    print(header)
    for intent, row in sorted(new["per_intent"].items()):
        line = f"{intent:32} {row['precision']:5.2f} {row['recall']:5.2f} {row['f1']:5.2f}"
        if old and intent in old["per_intent"]:
            before = old["per_intent"][intent]["f1"]
            line += f"   | {before:5.2f} {'↑' if row['f1'] > before else '↓' if row['f1'] < before else ''}"
        print(line)
    if new["confused"]:
        print("most confused (expected → predicted):")
        for pair in new["confused"]:
            print(f"  {pair['expected']} → {pair['predicted']}: {pair['count']}")


def cmd_catalog_publish(settings: Settings, args, rollback: bool = False) -> int:
    """Make a model the published one: the next start serves it. (A running server switches
    with no restart through the admin console, POST /admin/api/models/<id>/publish.)"""
    from bot.admin.models import NotPublishable

    registry = model_registry(settings)
    current = registry.published()
    running_id = current.id if current else None
    if args.id is None:
        target = registry.previous_published(running_id) if rollback else registry.latest()
        if target is None:
            print("error: no model to " + ("roll back to" if rollback else "publish"), file=sys.stderr)
            return 1
        model_id = target.id
    else:
        model_id = args.id
    try:
        model = registry.check_publishable(model_id, running_id, rollback)
    except NotPublishable as reason:
        print(f"error: {reason}", file=sys.stderr)
        return 1
    registry.mark_published(model.id, operator())
    audit(settings, "model.rollback" if rollback else "model.publish", {"model": model.id,
                                                                       "fingerprint": model.fingerprint})
    print(f"{'rolled back to' if rollback else 'published'} model {model.id} ({model.path.name}); "
          f"the next `madoguchi serve` starts with it")
    return 0


def cmd_catalog_history(settings: Settings, args) -> int:
    registry = model_registry(settings)
    published = registry.published()
    models = registry.all()
    if not models:
        print("no model registered yet")
    for model in models:
        scores = model.scores or {}
        marks = ("*" if published and model.id == published.id else " ") + (" " if model.available else "x")
        score = f"acc {scores['accuracy']:.3f} F1 {scores['macro_f1']:.3f}" if scores else "not evaluated"
        published_text = (f"published {model.published_at:%Y-%m-%d %H:%M} by {model.published_by}"
                          if model.published_at else "never published")
        print(f"{marks} {model.id:>4}  {model.fingerprint}  {model.created_at:%Y-%m-%d %H:%M}  "
              f"by {model.trained_by:<16} {score:<24} {published_text}")
    print("(* published, x file gone)")
    return 0


def add_train_command(sub) -> None:
    train = sub.add_parser("train", help="train a model if the catalog changed")
    train.add_argument("--force", action="store_true", help="train even if a model for this catalog exists")
