"""Bad input gets a clear error or a polite reply, never a crash, never a lost conversation."""
import httpx

from tests.conftest import texts


def post(server, body, **kwargs):
    return httpx.post(f"{server.base_url}/webhooks/rest/webhook", content=body,
                      headers={"content-type": "application/json"}, timeout=60, **kwargs)


def test_malformed_json(server):
    reply = post(server, b'{"sender": "x", "message": ')
    assert reply.status_code == 400 and reply.json()["error"] == "malformed_json"


def test_binary_body(server):
    reply = post(server, bytes(range(256)))
    assert reply.status_code == 400 and reply.json()["error"] == "malformed_json"


def test_wrong_types(server):
    assert post(server, b'["a", "b"]').json()["error"] == "malformed_json"
    assert post(server, b'{"sender": 5, "message": "hi"}').json()["error"] == "invalid_sender"
    assert post(server, b'{"sender": "ok", "message": 5}').json()["error"] == "invalid_message"
    assert post(server, b'{"sender": "ok", "message": "hi", "metadata": 3}').json()["error"] == "invalid_metadata"
    deep = b'{"a":' * 5000 + b'"\\ud800"' + b"}" * 5000
    assert post(server, b'{"sender": "ok", "message": "hi", "metadata": ' + deep + b"}").json()["error"] in (
        "invalid_metadata", "malformed_json")


def test_lone_surrogates_in_text_and_metadata_are_replaced_not_a_crash(server):
    reply = post(server, b'{"sender": "half-char", "message": "\\ud800\\u624b\\u6570\\u6599",'
                         b' "metadata": {"\\udc00": "\\ud83d"}}')
    assert reply.status_code == 200, reply.text
    assert reply.json() and reply.json()[0]["text"]
    sent = [event for event in server.tracker("half-char")["events"] if event["event"] == "user"][-1]
    assert sent["text"] == "\ufffd手数料" and sent["metadata"]["\ufffd"] == "\ufffd"


def test_empty_and_oversized_messages(server):
    empty = post(server, '{"sender": "ok-empty", "message": "   "}'.encode())
    assert empty.status_code == 400 and empty.json()["error"] == "empty_message"
    huge = post(server, ('{"sender": "ok-huge", "message": "%s"}' % ("あ" * 5000)).encode())
    assert huge.status_code == 413 and "2000" in huge.json()["message"]


def test_emoji_flood_gets_a_polite_reply(server):
    reply = server.say("emoji-flood", "😀" * 500)
    assert reply and reply[0]["text"]


def test_conversation_survives_bad_requests(server):
    server.say("survivor", "住民票がほしい")
    post(server, b'{"sender": "survivor", "message": ""}')
    post(server, b"not json")
    reply = server.say("survivor", "手数料は？")
    assert "300" in texts(reply)


def test_client_cannot_forge_redaction_metadata(server):
    reply = server.say("forger", "こんにちは", metadata={"redacted": ["my_number"]})
    assert "マイナンバー" not in texts(reply) or "送らないで" not in texts(reply)


def test_api_requires_the_token(server):
    assert httpx.get(f"{server.base_url}/conversations/x/tracker", timeout=10).status_code == 401
    assert httpx.get(f"{server.base_url}/conversations/x/tracker", params={"token": "wrong"},
                     timeout=10).status_code == 401
    assert httpx.get(f"{server.base_url}/status", params={"token": server.token}, timeout=10).status_code == 200
