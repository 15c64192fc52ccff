"""Finding 11: the call-back phone question does not loop, and キャンセル takes a queued
resident out of the queue; finding 2 (QR part): a visit slip's QR code never carries the
resident's own words."""
import sqlite3
import uuid

from bot.catalog import load_catalog
from bot.handoff.slips import qr_png_data_url, qr_text
from bot.settings import PROJECT_ROOT
from tests.conftest import buttons, texts
from tests.handoff.conftest import accounts, clerk  # noqa: F401 (fixtures)

CATALOG = load_catalog(PROJECT_ROOT / "intents")
INVALID = CATALOG.phrases["callback_invalid_phone"].ja
STOPPED = CATALOG.phrases["callback_cancelled"].ja


def new_sender() -> str:
    return f"rest:resident-{uuid.uuid4().hex[:10]}"


def consented(server) -> str:
    sender = new_sender()
    for text in ("児童手当の申請をしたい", "人と話したい", "/callback_request", "/callback_consent"):
        server.say(sender, text)
    return sender


def awaiting(server, sender: str):
    database = sqlite3.connect(server.var_dir / "madoguchi.db")
    return database.execute("select awaiting from handoffs where conversation_id = ?", (sender,)).fetchone()[0]


def test_an_unreadable_number_is_asked_once_more_with_a_way_out_then_dropped(server):
    sender = consented(server)
    first = server.say(sender, "電話は持ってません")
    assert INVALID in texts(first)
    assert any(b["payload"] == "/cancel_handoff" for b in buttons(first))
    second = server.say(sender, "えーと")
    assert INVALID not in texts(second) and STOPPED in texts(second)
    assert awaiting(server, sender) is None
    third = server.say(sender, "こんにちは")
    assert INVALID not in texts(third) and STOPPED not in texts(third)


def test_the_way_out_button_stops_the_wait(server):
    sender = consented(server)
    server.say(sender, "電話は持ってません")
    assert STOPPED in texts(server.say(sender, "/cancel_handoff"))
    assert awaiting(server, sender) is None


def test_another_question_drops_the_wait_and_is_answered(server):
    sender = consented(server)
    reply = server.say(sender, "住民票の写しがほしい")
    assert INVALID not in texts(reply)
    assert CATALOG.procedures["residence_certificate"].summary.ja in texts(reply)
    assert awaiting(server, sender) is None


def test_a_queued_resident_who_types_cancel_leaves_the_queue(server, clerk):
    sender = new_sender()
    server.say(sender, "人と話したい")
    reply = server.say(sender, "キャンセル")
    assert CATALOG.phrases["handoff_cancelled"].ja in texts(reply)
    assert CATALOG.phrases["fallback_candidates"].ja not in texts(reply)
    assert all(e["conversation_id"] != sender for e in clerk.get("/queue").json()["queue"])
    assert server.tracker(sender)["paused"] is False


def test_the_visit_slip_qr_code_carries_no_resident_text(server, clerk):
    sender = new_sender()
    secret = "となりの山本さんとの件で相談です"
    server.say(sender, secret)
    server.say(sender, "転入届を出したい")
    slip = server.say(sender, "/visit_slip")
    number = next(w for w in texts(slip).replace("。", " ").split() if w.isdigit() and len(w) == 6)
    image = next(m["image"] for m in slip if m.get("image"))

    procedure, counter = CATALOG.procedures["moving_in"], CATALOG.counters["shimin"]
    expected = qr_text(number, {"title": procedure.title.ja, "documents": list(procedure.documents.ja),
                                "counter": f"{counter.name.ja}（{counter.place.ja}）"})
    assert secret not in expected and "要件" not in expected
    # QR generation is deterministic: the image served is exactly the code of the safe text.
    assert image == qr_png_data_url(expected)
    # Staff still find what the resident said, by number.
    found = clerk.get(f"/slips/{number}").json()
    assert secret in found["summary"] and found["conversation_id"] == sender


def test_qr_text_leaves_out_the_summary():
    text = qr_text("123456", {"title": "転入届", "documents": ["本人確認書類"], "counter": "市民課（1階）",
                              "summary": "DVで避難中。住所は○○シェルター"})
    assert text.splitlines() == ["madoguchi 来庁票 123456", "手続き: 転入届", "□ 本人確認書類", "窓口: 市民課（1階）"]
