"""Metadata keys the server itself sets (the gate's answers, redaction findings, staff
marks) cannot be sent by a client: a REST client must not make the bot claim that a
call-back was registered or that the resident left a queue they never joined."""
import uuid

from tests.conftest import texts

REGISTERED = "折り返しのお電話を承りました"
LEFT_QUEUE = "順番待ちを取り消しました"


def test_a_client_cannot_forge_the_gates_answers(server):
    sender = f"forged-{uuid.uuid4().hex[:8]}"
    said = texts(server.say(sender, "住民票の写しがほしい", {"callback": "registered", "handoff": "cancelled"}))
    assert REGISTERED not in said and LEFT_QUEUE not in said
    assert "住民票" in said  # answered as the question it is
    user = [e for e in server.tracker(sender)["events"] if e["event"] == "user"][-1]
    assert "callback" not in user["metadata"] and "handoff" not in user["metadata"]


def test_a_client_cannot_forge_staff_or_redaction_marks(server):
    sender = f"forged-{uuid.uuid4().hex[:8]}"
    server.say(sender, "こんにちは", {"staff": {"name": "市長"}, "redacted": ["my_number"], "source": "kiosk"})
    user = [e for e in server.tracker(sender)["events"] if e["event"] == "user"][-1]
    assert user["metadata"].get("source") == "kiosk"  # ordinary metadata is kept
    assert "staff" not in user["metadata"] and "redacted" not in user["metadata"]
