"""Admin jobs without a server: progress events → progress bar and ETA; one job at a time;
a failing job says why. (The real subprocess and server: test_models_lifecycle.py.)"""
from __future__ import annotations

import asyncio
import time

import pytest

from bot.admin import jobs as jobs_module
from bot.admin.jobs import Job, JobBusy, Jobs, run_cli


def test_training_events_move_the_bar_forward_with_an_eta(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(jobs_module.time, "monotonic", lambda: clock[0])
    job = Job(id="j1", kind="train", started_by="admin")
    progress = []
    events = [{"phase": "compiling"}, {"phase": "training", "epoch": None, "epochs": None}]
    events += [{"phase": "training", "epoch": n, "epochs": 60} for n in range(0, 61)]
    events += [{"phase": "registered", "model": 7}, {"phase": "evaluating", "done": 0, "total": None}]
    events += [{"phase": "evaluating", "done": n, "total": 380} for n in range(20, 381, 20)]
    for event in events:
        clock[0] += 2.0  # two seconds per epoch (and per 20 sentences)
        job.apply(event)
        progress.append(job.progress)
        if event.get("epoch") == 31:
            assert job.eta_seconds == 2 * 29 + round(jobs_module.EVALUATION_SECONDS)
            assert job.message == "training: epoch 31/60"
    assert progress == sorted(progress)
    assert job.model == 7 and job.phase == "evaluating" and job.progress == pytest.approx(1.0)
    job.finish("done", "model 7 trained and evaluated")
    assert job.to_json()["state"] == "done" and job.to_json()["eta_seconds"] == 0


def test_one_job_at_a_time_and_a_failure_is_reported():
    async def scenario():
        jobs = Jobs()
        release = asyncio.Event()

        async def slow(job: Job) -> str:
            await release.wait()
            return "finished"

        first = jobs.start("train", "admin", slow)
        with pytest.raises(JobBusy) as busy:
            jobs.start("publish", "admin", slow)
        assert busy.value.job is first
        release.set()
        await asyncio.sleep(0.05)
        assert first.state == "done" and first.message == "finished"

        async def broken(job: Job) -> str:
            await run_cli(job, ["catalog", "no-such-command"])
            return "unreachable"

        failing = jobs.start("evaluate", "admin", broken)
        deadline = time.monotonic() + 120
        while failing.state not in ("done", "failed") and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert failing.state == "failed" and "exit 2" in failing.message and "invalid choice" in failing.message
        assert [job.id for job in jobs.recent()] == [failing.id, first.id]

    asyncio.run(scenario())
