"""Loading a model through Rasa's API replaces the agent; the handoff gate must stay in front."""
import uuid

import httpx

from tests.conftest import texts


def test_handoff_still_applies_after_a_model_is_loaded_through_the_api(server, trained_model, clerk):
    loaded = httpx.put(f"{server.base_url}/model", params={"token": server.token},
                       json={"model_file": str(trained_model)}, timeout=300)
    assert loaded.status_code == 204, loaded.text
    sender = f"rest:reload-{uuid.uuid4().hex[:8]}"  # the REST channel's own namespace
    server.say(sender, "人と話したい")
    waiting = server.say(sender, "まだでしょうか")
    assert "番目" in texts(waiting)  # the gate answered: Rasa stayed paused
    entry = next(e for e in clerk.get("/queue").json()["queue"] if e["conversation_id"] == sender)
    assert entry["summary"]["last_messages"][-1] == "まだでしょうか"
