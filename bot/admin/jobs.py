"""Background jobs of the admin console (train, evaluate, publish), one at a time.

Training and evaluation run `python -m bot.cli catalog …` as a subprocess: TensorFlow's
minutes of CPU work never touch the serving event loop, and a crash there cannot take the
server down. The subprocess reports progress as `@progress {json}` lines on stdout; the
job turns them into a 0..1 progress value and an ETA for the console's progress bar.
Jobs live in this process's memory (the last `KEEP` are kept)."""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence

from bot.admin.models import iso
from bot.background import niced
from bot.clock import real_utcnow
from bot.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)

PROGRESS_PREFIX = "@progress "
KEEP = 20
# Share of the progress bar per phase of a training job (evaluation = the rest).
TRAIN_SHARE = {"compiling": 0.02, "preparing": 0.05, "trained": 0.8}
EVALUATION_SECONDS = 45.0  # a first guess for the ETA until the evaluation measures its own pace
LOAD_SECONDS = 35.0  # a first guess for loading a model before a swap
LOAD_CALLS = 875_000  # Python calls loading the sample catalog's model makes (logged after each load)


@dataclass
class Job:
    id: str
    kind: str  # train | evaluate | publish | rollback
    started_by: str
    state: str = "queued"  # queued | running | done | failed
    phase: str = "queued"
    progress: float = 0.0
    epoch: Optional[int] = None
    epochs: Optional[int] = None
    eta_seconds: Optional[int] = None
    message: str = ""
    model: Optional[int] = None
    started_at: Any = field(default_factory=real_utcnow)
    finished_at: Any = None
    # Pace measurements for the ETA.
    _epoch_started: Optional[float] = None
    _evaluation_started: Optional[float] = None

    def to_json(self) -> Dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "state": self.state, "phase": self.phase,
                "progress": round(self.progress, 3), "epoch": self.epoch, "epochs": self.epochs,
                "eta_seconds": self.eta_seconds, "message": self.message, "model": self.model,
                "started_at": iso(self.started_at), "finished_at": iso(self.finished_at),
                "started_by": self.started_by}

    def apply(self, event: Dict[str, Any]) -> None:
        """One progress event of the CLI subprocess (bot/training.py) → progress, ETA, message."""
        phase = event.get("phase")
        now = time.monotonic()
        evaluation_start = TRAIN_SHARE["trained"] if self.kind == "train" else 0.0
        if phase == "compiling":
            self.phase, self.progress, self.message = "compiling", TRAIN_SHARE["compiling"], "compiling the catalog"
        elif phase == "training":
            self.phase = "training"
            epoch, epochs = event.get("epoch"), event.get("epochs")
            if not epochs:
                self.progress, self.message = TRAIN_SHARE["preparing"], "preparing the training data"
                return
            epoch = int(epoch or 0)
            self.epoch, self.epochs = epoch, epochs
            span = TRAIN_SHARE["trained"] - TRAIN_SHARE["preparing"]
            self.progress = TRAIN_SHARE["preparing"] + span * epoch / epochs
            self.message = f"training: epoch {epoch}/{epochs}"
            if epoch == 1:  # the first epoch traces the graph (slow): the pace starts after it
                self._epoch_started = now
            elif epoch > 1 and self._epoch_started is not None:
                per_epoch = (now - self._epoch_started) / (epoch - 1)
                self.eta_seconds = round(per_epoch * (epochs - epoch) + EVALUATION_SECONDS)
        elif phase == "evaluating":
            self.phase = "evaluating"
            done, total = event.get("done") or 0, event.get("total")
            if self._evaluation_started is None:
                self._evaluation_started = now
            if total:
                self.progress = evaluation_start + (1 - evaluation_start) * done / total
                self.message = f"evaluating: {done}/{total} held-out sentences"
                elapsed = now - self._evaluation_started
                self.eta_seconds = round(elapsed / done * (total - done)) if done else None
            else:
                self.progress = max(self.progress, evaluation_start)
                self.message = "loading the model to evaluate it"
                self.eta_seconds = round(EVALUATION_SECONDS)
        elif phase == "registered":
            self.model = event.get("model")

    def finish(self, state: str, message: str) -> None:
        self.state, self.message, self.finished_at = state, message, real_utcnow()
        self.phase = "done" if state == "done" else "failed"
        self.eta_seconds = 0 if state == "done" else None
        if state == "done":
            self.progress = 1.0


class JobBusy(Exception):
    def __init__(self, job: Job) -> None:
        super().__init__(f"job {job.id} is still running")
        self.job = job


class Jobs:
    """The admin jobs of one server process; starting one while another runs raises JobBusy."""

    def __init__(self) -> None:
        self._jobs: "OrderedDict[str, Job]" = OrderedDict()
        self._ids = itertools.count(1)
        self._tasks: Dict[str, asyncio.Task] = {}

    def running(self) -> Optional[Job]:
        return next((job for job in self._jobs.values() if job.state in ("queued", "running")), None)

    def get(self, job_id: str) -> Optional[Job]:
        return self._jobs.get(job_id)

    def recent(self) -> List[Job]:
        return list(reversed(self._jobs.values()))

    def start(self, kind: str, started_by: str, work: Callable[[Job], Awaitable[str]]) -> Job:
        """Run `work(job)` in the background; its return value is the job's final message."""
        busy = self.running()
        if busy is not None:
            raise JobBusy(busy)
        job = Job(id=f"j{next(self._ids)}", kind=kind, started_by=started_by)
        self._jobs[job.id] = job
        while len(self._jobs) > KEEP:
            self._jobs.popitem(last=False)
        self._tasks[job.id] = asyncio.get_running_loop().create_task(self._run(job, work))
        return job

    async def _run(self, job: Job, work: Callable[[Job], Awaitable[str]]) -> None:
        job.state = "running"
        try:
            job.finish("done", await work(job))
        except Exception as failure:  # the console shows why; the server keeps serving
            logger.exception("admin job %s (%s) failed", job.id, job.kind)
            job.finish("failed", str(failure) or failure.__class__.__name__)
        finally:
            self._tasks.pop(job.id, None)

    async def stop(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()


class CommandFailed(RuntimeError):
    pass


async def run_cli(job: Job, arguments: Sequence[str], env: Optional[Dict[str, str]] = None) -> None:
    """`python -m bot.cli <arguments>` in a niced subprocess (the residents' turns first), its progress into `job`."""
    process = await asyncio.create_subprocess_exec(
        *niced([sys.executable, "-m", "bot.cli", *arguments]), cwd=str(PROJECT_ROOT), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, limit=1 << 20)
    last_line = ""
    try:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            # stderr shares the pipe: tqdm's bar (no newline) can come first on the same line.
            start = line.find(PROGRESS_PREFIX)
            if start >= 0:
                try:
                    event = json.loads(line[start + len(PROGRESS_PREFIX):])
                except ValueError:
                    continue
                job.apply(event)
            elif line.strip():
                last_line = line.strip().rsplit("\r", 1)[-1]
        code = await process.wait()
    except asyncio.CancelledError:
        process.kill()
        raise
    if code != 0:
        raise CommandFailed(f"`madoguchi {arguments[0]} {arguments[1]}` failed (exit {code}): {last_line[-300:]}")
