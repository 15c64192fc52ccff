"""The model registry: every trained model with its catalog fingerprint, who trained and
published it, and its held-out scores (table `models`, bot/store/models.py).

Synchronous (SQLAlchemy): the server calls it through `asyncio.to_thread`, the CLI directly.
Which model is *running* is the server's business (bot/admin/models_api.py); the registry
only remembers which one was published last, so the next start serves that one."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from sqlalchemy import select

from bot.clock import real_utcnow
from bot.settings import PROJECT_ROOT
from bot.store import Database
from bot.store.models import ModelRecord

# Held-out sentences written apart from the catalog's examples (never trained on).
HELDOUT_FILES = (PROJECT_ROOT / "tests" / "data" / "nlu_heldout.yml",
                 PROJECT_ROOT / "tests" / "data" / "nlu_heldout_voice.yml")
# An admin can switch to any of this many newest models (publish, or roll back to an older one).
ROLLBACK_WINDOW = 5


def iso(moment: Optional[dt.datetime]) -> Optional[str]:
    return moment.isoformat(timespec="seconds") + "Z" if moment else None


@dataclass(frozen=True)
class ModelInfo:
    id: int
    fingerprint: str
    path: Path
    created_at: dt.datetime
    trained_by: str
    scores: Optional[Dict[str, float]]
    published_at: Optional[dt.datetime]
    published_by: Optional[str]
    evaluated: bool

    @classmethod
    def of(cls, row: ModelRecord) -> "ModelInfo":
        return cls(row.id, row.fingerprint, Path(row.path), row.created_at, row.trained_by,
                   json.loads(row.scores) if row.scores else None, row.published_at, row.published_by,
                   row.evaluation is not None)

    @property
    def available(self) -> bool:
        return self.path.exists()

    def to_json(self, running_id: Optional[int], newest_ids: List[int]) -> Dict[str, Any]:
        can_publish = self.available and self.id != running_id and self.id in newest_ids
        return {"id": self.id, "fingerprint": self.fingerprint, "file": self.path.name,
                "created_at": iso(self.created_at), "trained_by": self.trained_by,
                "published_at": iso(self.published_at), "published_by": self.published_by,
                "scores": self.scores, "running": self.id == running_id, "available": self.available,
                "can_publish": can_publish, "can_rollback": can_publish and self.published_at is not None}


class NotPublishable(Exception):
    """This model cannot be switched to (the message says why)."""


class ModelRegistry:
    def __init__(self, db: Database) -> None:
        self.db = db

    def register(self, path: Path, fingerprint: str, trained_by: str, retrained: bool = False) -> ModelInfo:
        """The row for this model file, made if new; a file trained again replaces its old scores."""
        path = Path(path).resolve()
        with self.db.session() as session:
            row = session.scalars(select(ModelRecord).where(ModelRecord.path == str(path))).first()
            if row is None:
                row = ModelRecord(fingerprint=fingerprint, path=str(path), trained_by=trained_by)
                session.add(row)
            elif retrained:
                row.created_at, row.trained_by, row.scores, row.evaluation = real_utcnow(), trained_by, None, None
            session.flush()
            return ModelInfo.of(row)

    def get(self, model_id: int) -> Optional[ModelInfo]:
        with self.db.session() as session:
            row = session.get(ModelRecord, model_id)
            return ModelInfo.of(row) if row else None

    def all(self) -> List[ModelInfo]:
        """Newest first."""
        with self.db.session() as session:
            return [ModelInfo.of(row) for row in session.scalars(select(ModelRecord).order_by(ModelRecord.id.desc()))]

    def newest_ids(self) -> List[int]:
        return [model.id for model in self.all()[:ROLLBACK_WINDOW]]

    def latest(self) -> Optional[ModelInfo]:
        models = self.all()
        return models[0] if models else None

    def published(self) -> Optional[ModelInfo]:
        """The model published last whose file still exists (what the next start serves)."""
        candidates = [m for m in self.all() if m.published_at is not None and m.available]
        return max(candidates, key=lambda m: m.published_at or dt.datetime.min) if candidates else None

    def previous_published(self, running_id: Optional[int]) -> Optional[ModelInfo]:
        """The model published before the running one (what `catalog rollback` goes back to)."""
        earlier = sorted((m for m in self.all() if m.published_at is not None and m.id != running_id
                          and m.available), key=lambda m: m.published_at or dt.datetime.min, reverse=True)
        return earlier[0] if earlier else None

    def check_publishable(self, model_id: int, running_id: Optional[int], rollback: bool) -> ModelInfo:
        model = self.get(model_id)
        if model is None:
            raise NotPublishable(f"there is no model {model_id}")
        if not model.available:
            raise NotPublishable(f"the file of model {model_id} is gone ({model.path.name})")
        if model.id == running_id:
            raise NotPublishable(f"model {model_id} is already running")
        if model.id not in self.newest_ids():
            raise NotPublishable(f"only the {ROLLBACK_WINDOW} newest models can be published")
        if rollback and model.published_at is None:
            raise NotPublishable(f"model {model_id} was never published: publish it instead of rolling back")
        return model

    def prune_files(self, running_id: Optional[int] = None) -> List[Path]:
        """Delete the files of models that can no longer be published (older than the newest
        ROLLBACK_WINDOW), except the published and the running one: each is ~25 MB and a
        city that retrains weekly would otherwise fill its disk. The rows (history) stay."""
        models = self.all()
        keep = {m.id for m in models[:ROLLBACK_WINDOW]} | {running_id}
        published = self.published()
        if published is not None:
            keep.add(published.id)
        removed = []
        for model in models:
            if model.id not in keep and model.available:
                model.path.unlink(missing_ok=True)
                removed.append(model.path)
        return removed

    def mark_published(self, model_id: int, published_by: str) -> None:
        with self.db.session() as session:
            row = session.get(ModelRecord, model_id)
            row.published_at, row.published_by = real_utcnow(), published_by

    def save_evaluation(self, model_id: int, evaluation: Dict[str, Any]) -> None:
        with self.db.session() as session:
            row = session.get(ModelRecord, model_id)
            row.evaluation = json.dumps(evaluation, ensure_ascii=False)
            row.scores = json.dumps({"accuracy": evaluation["accuracy"], "macro_f1": evaluation["macro_f1"]})

    def evaluation(self, model_id: int) -> Optional[Dict[str, Any]]:
        with self.db.session() as session:
            row = session.get(ModelRecord, model_id)
            if row is None or row.evaluation is None:
                return None
            return {"model_id": model_id, **json.loads(row.evaluation)}
