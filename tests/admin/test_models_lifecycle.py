"""The model lifecycle on a real server: train in the background (real Rasa training in a
subprocess), evaluate side by side, publish with no restart while 20 residents keep talking,
roll back; the new example comes from the missed-question inbox (a resident's question the old
model missed), so the whole loop "missed question → example → recognized after publish" runs.
The server has its own catalog copy, models folder and database, so the shared
models/ is never touched; it trains once per test session (its own catalog, one new example)."""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List

import pytest

from bot.admin.models import ModelRegistry
from bot.settings import PROJECT_ROOT
from bot.store import Database
from tests.admin.models_support import ApiUser, Crowd, api_login
from tests.conftest import API_TOKEN, FAKE_NOW, Server
from tests.devserver import running_server
from tests.handoff.conftest import add_account

# A sentence no resident example resembles: the old model cannot know it, one example teaches it.
NEW_EXAMPLE = "ぽんぽこぺーぱーを一枚ください"
NEW_EXAMPLE_INTENT = "residence_certificate"
JOB_TIMEOUT = 1500  # training on 2 shared cores


@pytest.fixture(scope="module")
def lifecycle(trained_model: Path, tmp_path_factory):
    """A server started on the current catalog's model (linked, not copied or changed)."""
    home = tmp_path_factory.mktemp("models-home")
    catalog = home / "intents"
    shutil.copytree(PROJECT_ROOT / "intents", catalog)
    (home / "models").mkdir()
    (home / "models" / trained_model.name).symlink_to(trained_model)
    # The running model is published before the start, as `madoguchi catalog publish` would: the
    # server then serves it although this server trains with fewer epochs (a new fingerprint).
    (home / "var").mkdir()
    registry = ModelRegistry(Database(f"sqlite:///{home / 'var' / 'madoguchi.db'}"))
    registry.db.create_tables()
    running = registry.register(home / "models" / trained_model.name, trained_model.name[len("madoguchi-"):-7],
                                "system")
    registry.mark_published(running.id, "system")
    extra = {"MADOGUCHI_FAKE_NOW": FAKE_NOW, "MADOGUCHI_CATALOG": str(catalog),
             "MADOGUCHI_MODELS": str(home / "models"), "MADOGUCHI_BUILD": str(home / "build"),
             "MADOGUCHI_TTS": "openjtalk", "MADOGUCHI_TTS_PRESYNTHESIS": "off",
             # The lifecycle, not the accuracy, is tested: a third of the default epochs trains in a
             # third of the time and still learns the one new example.
             "MADOGUCHI_TRAIN_EPOCHS": "20",
             "MADOGUCHI_PUBLISH_BUSY_SHARE": "0.25"}  # giving way as by default, in a fifth of the time
    with running_server(home / "var", API_TOKEN, extra) as running:
        server = Server(running.base_url, running.token, running.var_dir, running.process)
        suffix = uuid.uuid4().hex[:6]
        names = {"admin": f"kanri{suffix}", "staff": f"madoguchi{suffix}"}
        add_account(server, names["admin"], "admin", "管理者")
        add_account(server, names["staff"], "staff", "窓口", section="shimin")
        yield server, catalog, names


def intent_of(server: Server, text: str) -> str:
    return server.parse(text)["intent"]["name"]


def audit_actions(server: Server) -> List[str]:
    with sqlite3.connect(server.var_dir / "madoguchi.db") as db:
        return [row[0] for row in db.execute("SELECT action FROM audit_log WHERE action LIKE 'model.%' ORDER BY id")]


def test_a_staff_account_gets_403_and_no_session_401(lifecycle):
    server, _catalog, names = lifecycle
    staff = api_login(server.base_url, names["staff"])
    for path in ("/models", "/jobs", "/models/1/evaluation"):
        assert staff.get(path).status_code == 403, path
    for path in ("/models/train", "/models/1/publish", "/models/1/rollback"):
        reply = staff.post(path)
        assert reply.status_code == 403 and reply.json()["error"] == "forbidden", path
    admin = api_login(server.base_url, names["admin"])
    assert admin.post("/models/train", csrf=False).json()["error"] == "csrf"
    nobody = ApiUser(admin.client.__class__(base_url=server.base_url), "")
    assert nobody.get("/models").status_code == 401


def test_train_evaluate_publish_while_residents_talk_then_roll_back(lifecycle):
    server, catalog, names = lifecycle
    admin = api_login(server.base_url, names["admin"])
    listing = admin.get("/models").json()
    original = listing["running"]
    assert [m["id"] for m in listing["models"]] == [original]
    assert listing["models"][0]["trained_by"] == "system" and listing["models"][0]["published_at"]
    assert intent_of(server, NEW_EXAMPLE) != NEW_EXAMPLE_INTENT  # the old model does not know it

    # A resident asks it, the assistant misses it, the inbox shows it, one click makes it an example.
    server.say(f"missed-{uuid.uuid4().hex[:8]}", NEW_EXAMPLE)
    groups = admin.get("/missed").json()["groups"]
    assert any(NEW_EXAMPLE in [t["text"] for t in group["texts"]] for group in groups), groups
    made = admin.post("/missed/examples", {"intent": NEW_EXAMPLE_INTENT, "texts": [NEW_EXAMPLE]})
    assert made.status_code == 200, made.text
    assert f"- {NEW_EXAMPLE}" in (catalog / "procedures" / f"{NEW_EXAMPLE_INTENT}.yml").read_text(encoding="utf-8")
    # Two residents talk while it trains and evaluates (a subprocess: the server keeps answering);
    # twenty while it publishes (the loading shares the server's process with their turns).
    talking = Crowd(server.base_url, size=2).start()
    try:
        started = admin.post("/models/train")
        assert started.status_code == 202, started.text
        job_id = started.json()["job"]
        second = admin.post("/models/train")
        assert second.status_code == 409 and second.json()["job"] == job_id  # one training at a time
        seen: List[Dict[str, Any]] = []
        job = admin.wait_for_job(job_id, JOB_TIMEOUT, seen)
        assert job["state"] == "done", job
        new_model = job["model"]
        assert new_model not in (None, original)
        # The progress bar moved through the epochs with an ETA, never backwards.
        epochs = [s for s in seen if s["phase"] == "training" and s["epoch"]]
        assert epochs and any(0 < s["epoch"] < s["epochs"] for s in epochs), seen[-5:]
        assert any(s["eta_seconds"] for s in epochs)
        progress = [s["progress"] for s in seen]
        assert progress == sorted(progress) and progress[-1] == 1.0
        assert intent_of(server, NEW_EXAMPLE) != NEW_EXAMPLE_INTENT  # trained, not yet published

        # Evaluation side by side: the new model's is stored; the running one's is computed once.
        reply = admin.get(f"/models/{new_model}/evaluation")
        if reply.status_code == 202:
            assert admin.wait_for_job(reply.json()["job"], JOB_TIMEOUT)["state"] == "done"
            reply = admin.get(f"/models/{new_model}/evaluation")
        assert reply.status_code == 200, reply.text
        evaluation = reply.json()
        for side in ("model", "running"):
            report = evaluation[side]
            assert report["examples"] >= 300 and 0.85 <= report["accuracy"] <= 1.0
            row = report["per_intent"][NEW_EXAMPLE_INTENT]
            assert set(row) == {"precision", "recall", "f1", "support"} and row["support"] > 0
            assert all(set(pair) == {"expected", "predicted", "count", "examples"} for pair in report["confused"])
        assert evaluation["model"]["model_id"] == new_model and evaluation["running"]["model_id"] == original
        models = {m["id"]: m for m in admin.get("/models").json()["models"]}
        assert models[new_model]["scores"]["accuracy"] == evaluation["model"]["accuracy"]
        assert models[new_model]["trained_by"] == names["admin"] and models[new_model]["can_publish"]
    finally:
        while_training = talking.stop()
    failed = [t for t in while_training if t.status != 200 or t.messages == 0]
    assert not failed and len(while_training) > 20, (failed[:5], len(while_training))

    crowd = Crowd(server.base_url, size=20).start()
    try:
        time.sleep(2)  # all twenty talking before the publish starts
        swap_started = time.monotonic()
        published = admin.post(f"/models/{new_model}/publish")
        assert published.status_code == 202, published.text
        publish_seen: List[Dict[str, Any]] = []
        publish_job = admin.wait_for_job(published.json()["job"], 600, publish_seen)
        assert publish_job["state"] == "done", publish_job
        swap_ended = time.monotonic()
        # The loading gave way to the residents talking (bot/admin/model_swap.py), its bar moving forward.
        assert re.search(r"gave way to residents' turns for [1-9]\d* s", publish_job["message"]), publish_job
        loading = [state["progress"] for state in publish_seen if state["state"] == "running"]
        assert loading == sorted(loading) and len(set(loading)) > 1, publish_seen
    finally:
        turns = crowd.stop()

    # Every turn of the 20 residents was answered, before, during and after the swap.
    failed = [t for t in turns if t.status != 200 or t.messages == 0]
    assert not failed, failed[:5]
    during_swap = [t for t in turns if swap_started <= t.started and t.ended <= swap_ended]
    assert len(during_swap) >= 20, (len(during_swap), swap_ended - swap_started)  # they kept talking meanwhile
    assert len(turns) > 60

    # The new example is recognized, with no restart.
    assert intent_of(server, NEW_EXAMPLE) == NEW_EXAMPLE_INTENT
    listing = admin.get("/models").json()
    assert listing["running"] == new_model
    models = {m["id"]: m for m in listing["models"]}
    assert models[new_model]["published_by"] == names["admin"] and models[original]["can_rollback"]
    assert server.process.poll() is None

    rolled = admin.post(f"/models/{original}/rollback")
    assert rolled.status_code == 202, rolled.text
    assert admin.wait_for_job(rolled.json()["job"], 600)["state"] == "done"
    assert intent_of(server, NEW_EXAMPLE) != NEW_EXAMPLE_INTENT  # the old behaviour is back
    assert admin.get("/models").json()["running"] == original
    refused = admin.post(f"/models/{original}/publish")
    assert refused.status_code == 409 and refused.json()["error"] == "not_publishable"  # already running
    assert audit_actions(server) == ["model.train", "model.publish", "model.rollback"]

    # Published on the command line (as another server process would): the running server follows.
    env = dict(os.environ, MADOGUCHI_VAR=str(server.var_dir))
    result = subprocess.run([sys.executable, "-m", "bot.cli", "catalog", "publish", str(new_model)], env=env,
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    deadline = time.monotonic() + 600
    while admin.get("/models").json()["running"] != new_model:
        assert time.monotonic() < deadline, admin.get("/jobs").json()
        time.sleep(2)
    assert intent_of(server, NEW_EXAMPLE) == NEW_EXAMPLE_INTENT
    assert audit_actions(server)[-1] == "model.publish"
