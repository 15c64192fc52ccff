"""The admin model API under /admin/api (contract: notes/admin-models-api.md): list models,
train in the background, evaluate side by side with the running model, publish or roll back
with no restart. Admin role only; every database call in a worker thread."""
from __future__ import annotations

import asyncio
import logging
import re
import time
from asyncio import to_thread
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.admin.bodies import Evaluation, JobList, JobStarted, JobView, ModelList, Train
from bot.admin.jobs import LOAD_CALLS, LOAD_SECONDS, Job, JobBusy, Jobs, run_cli
from bot.admin.model_swap import give_way_for, load_and_swap
from bot.admin.models import ROLLBACK_WINDOW, ModelInfo, ModelRegistry, NotPublishable
from bot.apidoc import Answer, failure, operation
from bot.errors import error_response
from bot.services import Services, services_of
from bot.settings import Settings
from bot.staff.api import authenticated
from bot.staff.context import StaffContext

logger = logging.getLogger(__name__)
MODEL_FILE = re.compile(r"madoguchi-([0-9a-f]+)\.tar\.gz$")
FOLLOW_SECONDS = 5.0  # how often the server checks whether a model was published elsewhere


@dataclass
class AdminModels:
    """What the model API shares per server (a part of its services, bot/services.py)."""

    registry: ModelRegistry
    jobs: Jobs
    settings: Settings
    running_id: Optional[int] = None
    load_calls: int = LOAD_CALLS  # Python calls a model's loading makes: the publish progress bar's 100 %

    def cli_environment(self) -> Dict[str, str]:
        """The subprocess works on this server's catalog, models, build folder and database."""
        import os

        settings = self.settings
        return {**os.environ, "MADOGUCHI_CATALOG": str(settings.catalog_dir),
                "MADOGUCHI_MODELS": str(settings.models_dir), "MADOGUCHI_BUILD": str(settings.build_dir),
                "MADOGUCHI_VAR": str(settings.var_dir), "MADOGUCHI_DATABASE_URL": settings.tracker_database_url,
                "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}


def register_running_model(registry: ModelRegistry, model_path: Path) -> ModelInfo:
    """The model the server started with, in the registry (published if nothing was yet), so it
    can be compared with and rolled back to. Blocking: worker thread."""
    match = MODEL_FILE.search(Path(model_path).name)
    model = registry.register(Path(model_path), match.group(1) if match else "unknown", "system")
    if registry.published() is None:
        registry.mark_published(model.id, "system")
    return model


async def switch_to(services: Services, models: AdminModels, model: ModelInfo, username: str, action: Optional[str],
                    job: Job) -> str:
    """Load `model` beside the running one, swap, then record it (unless it was published elsewhere)."""
    job.model = model.id
    job.phase, job.message = "loading", f"loading model {model.id} beside the running one"
    started = time.monotonic()
    give_way = give_way_for(services, models.settings.publish_busy_share)
    loading = asyncio.ensure_future(load_and_swap(services, model.path, give_way))
    while not loading.done():  # the bar follows the Python calls the loading has made so far
        done = min(0.99, give_way.calls / models.load_calls)
        job.progress = 0.9 * done
        elapsed = time.monotonic() - started
        job.eta_seconds = max(1, round(elapsed * (1 - done) / done if done > 0.05 else LOAD_SECONDS - elapsed))
        await asyncio.wait({loading}, timeout=0.5)
    loading.result()
    models.load_calls = give_way.calls  # the next load of this catalog makes about as many
    previous, models.running_id = models.running_id, model.id
    if action is not None:
        await to_thread(models.registry.mark_published, model.id, username)
        await to_thread(services.part(StaffContext).audit.record, username, action, None,
                        {"model": model.id, "fingerprint": model.fingerprint, "previous": previous})
    return (f"model {model.id} is running (switched in {time.monotonic() - started:.0f} s, no restart; "
            f"loading gave way to residents' turns for {give_way.paused_seconds:.0f} s)")


async def follow_published(services: Services, models: AdminModels) -> None:
    """Switch when the model was published elsewhere: `madoguchi catalog publish|rollback` on the
    command line, or another server process of the same city (one database). Each published
    version is tried once: a broken file does not make the server reload forever."""
    tried: Optional[Tuple[int, Any]] = None
    while True:
        await asyncio.sleep(FOLLOW_SECONDS)
        try:
            if services.agent.current() is None:  # the first model is still loading
                continue
            published = await to_thread(models.registry.published)
            if published is None or published.id == models.running_id or models.jobs.running() is not None:
                continue
            if tried == (published.id, published.published_at):
                continue
            tried = (published.id, published.published_at)
            models.jobs.start("publish", published.published_by or "system",
                              partial(switch_to, services, models, published, "", None))
        except Exception:  # a database hiccup must not end the following for good
            logger.exception("following the published model failed")


STARTED = Answer("The job started", JobStarted)
BUSY = failure("Another job is running (busy, with job)")
NOT_A_MODEL_ID = failure("No such route (model_id is not an integer)")


def busy(job: Job) -> HTTPResponse:
    return error_response(409, "busy", f"A {job.kind} job is still running ({job.id}).", job=job.id)


def admin_models_blueprint() -> Blueprint:
    bp = Blueprint("madoguchi_admin_models", url_prefix="/admin/api")

    followers: List["asyncio.Task[None]"] = []

    @bp.listener("before_server_start")  # before the first request can ask for the AdminModels part
    async def register_startup_model(app: Any, _loop: Any) -> None:
        from bot.handoff.runtime import service_for

        services = services_of(app)
        settings: Settings = services.settings
        handoffs = await to_thread(service_for, settings.tracker_database_url, settings.callback_ttl_seconds)
        models = AdminModels(ModelRegistry(handoffs.db), Jobs(), settings)
        model = await to_thread(register_running_model, models.registry, services.model_path)
        models.running_id = model.id
        services.add(models)
        followers.append(asyncio.get_running_loop().create_task(follow_published(services, models)))

    @bp.listener("before_server_stop")
    async def stop_jobs(app: Any, _loop: Any) -> None:
        services = services_of(app)
        if services.has_part(AdminModels):
            await services.part(AdminModels).jobs.stop()
            while followers:
                followers.pop().cancel()

    def state(request: Request) -> AdminModels:
        return services_of(request.app).part(AdminModels)

    @bp.get("/models")
    @authenticated(role="admin")
    @operation("Every trained model, newest first", tags=["models"], answers={200: Answer("Models", ModelList)})
    async def list_models(request: Request) -> HTTPResponse:
        models = state(request)
        everything = await to_thread(models.registry.all)
        newest = [m.id for m in everything[:ROLLBACK_WINDOW]]
        running_job = models.jobs.running()
        return response.json({"running": models.running_id, "job": running_job.id if running_job else None,
                              "models": [m.to_json(models.running_id, newest) for m in everything]})

    @bp.post("/models/train")
    @authenticated(role="admin")
    @operation("Train a model from the catalog as it is (a job)", tags=["models"], body=Train,
               answers={202: STARTED, 409: BUSY,
                        422: failure("force is not true or false (invalid_body, with field)")})
    async def train(request: Request, body: Train) -> HTTPResponse:
        models = state(request)
        force = body.force
        username = request.ctx.principal.username

        async def work(job: Job) -> str:
            arguments = ["catalog", "train", "--progress-json", "--trained-by", username]
            await run_cli(job, arguments + (["--force"] if force else []), env=models.cli_environment())
            if job.model is None:
                raise RuntimeError("training ended without registering a model")
            return f"model {job.model} trained and evaluated"

        try:  # the training subprocess writes the audit row (model.train, by this admin) once it registers
            job = models.jobs.start("train", username, work)
        except JobBusy as running:
            return busy(running.job)
        return response.json({"job": job.id}, status=202)

    @bp.get("/jobs")
    @authenticated(role="admin")
    @operation("Recent jobs, newest first", tags=["models"], answers={200: Answer("Jobs", JobList)})
    async def list_jobs(request: Request) -> HTTPResponse:
        return response.json({"jobs": [job.to_json() for job in state(request).jobs.recent()]})

    @bp.get("/jobs/<job_id>")
    @authenticated(role="admin")
    @operation("One job's progress", tags=["models"], answers={200: Answer("The job", JobView),
                                                                404: failure("No such job")})
    async def show_job(request: Request, job_id: str) -> HTTPResponse:
        job = state(request).jobs.get(job_id)
        if job is None:
            return error_response(404, "not_found", f"There is no job {job_id}.")
        return response.json(job.to_json())

    @bp.get("/models/<model_id:int>/evaluation")
    @authenticated(role="admin")
    @operation("A model's evaluation beside the running model's (starts an evaluation job when missing)",
               tags=["models"],
               answers={200: Answer("Reports", Evaluation), 202: Answer("An evaluation job started", JobStarted),
                        404: failure("No such model"), 409: BUSY})
    async def evaluation(request: Request, model_id: int) -> HTTPResponse:
        models = state(request)
        if await to_thread(models.registry.get, model_id) is None:
            return error_response(404, "not_found", f"There is no model {model_id}.")
        wanted = [model_id] + ([models.running_id] if models.running_id not in (None, model_id) else [])
        reports = {i: await to_thread(models.registry.evaluation, i) for i in wanted}
        missing = [i for i, report in reports.items() if report is None]
        if not missing:
            return response.json({"model": reports[model_id],
                                  "running": reports.get(models.running_id) if models.running_id else None})
        running_job = models.jobs.running()
        if running_job is not None:
            if running_job.kind == "evaluate":  # already on it: poll that job
                return response.json({"job": running_job.id}, status=202)
            return busy(running_job)

        async def work(job: Job) -> str:
            job.model = model_id
            await run_cli(job, ["catalog", "evaluate", *map(str, missing), "--progress-json"],
                          env=models.cli_environment())
            return f"evaluated model(s) {', '.join(map(str, missing))}"

        job = models.jobs.start("evaluate", request.ctx.principal.username, work)
        return response.json({"job": job.id}, status=202)

    async def switch(request: Request, model_id: int, rollback: bool) -> HTTPResponse:
        models = state(request)
        username = request.ctx.principal.username
        try:
            model = await to_thread(models.registry.check_publishable, model_id, models.running_id, rollback)
        except NotPublishable as reason:
            return error_response(409, "not_publishable", f"{str(reason).capitalize()}.")
        action = "model.rollback" if rollback else "model.publish"
        try:
            job = models.jobs.start("rollback" if rollback else "publish", username,
                                    partial(switch_to, services_of(request.app), models, model, username, action))
        except JobBusy as running:
            return busy(running.job)
        return response.json({"job": job.id}, status=202)

    @bp.post("/models/<model_id:int>/publish")
    @authenticated(role="admin")
    @operation("Publish a model on every replica (a job)", tags=["models"],
               answers={202: STARTED, 404: NOT_A_MODEL_ID,
                        409: failure("Busy (busy), or not publishable (not_publishable)")})
    async def publish(request: Request, model_id: int) -> HTTPResponse:
        return await switch(request, model_id, rollback=False)

    @bp.post("/models/<model_id:int>/rollback")
    @authenticated(role="admin")
    @operation("Roll back to an older good model (a job)", tags=["models"],
               answers={202: STARTED, 404: NOT_A_MODEL_ID,
                        409: failure("Busy (busy), or not publishable (not_publishable)")})
    async def rollback(request: Request, model_id: int) -> HTTPResponse:
        return await switch(request, model_id, rollback=True)

    return bp
