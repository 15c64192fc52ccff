"""Conversations over real HTTP against `madoguchi serve` (REST channel, real model)."""
import uuid

from bot import clock, opening_hours
from bot.catalog import load_catalog
from bot.settings import PROJECT_ROOT
from tests.conftest import buttons, texts

CATALOG = load_catalog(PROJECT_ROOT / "intents")


def new_sender() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def slot(server, sender, name):
    return server.tracker(sender)["slots"].get(name)


def test_procedure_answer_then_documents_follow_up(server):
    sender = new_sender()
    first = server.say(sender, "マイナンバーカードをなくしました")
    assert "0120-95-0178" in texts(first)           # the summary comes first
    assert "市民課" in texts(first)                   # and the counter that handles it
    assert any(b["payload"].startswith("/ask_documents") for b in buttons(first))
    assert slot(server, sender, "procedure") == "mynumber_lost"

    follow_up = server.say(sender, "何を持っていけばいい？")
    for item in CATALOG.procedures["mynumber_lost"].documents.ja:
        assert item in texts(follow_up)
    assert all(m["lang"] == "ja" for m in follow_up)


def test_follow_up_switches_to_the_newly_named_procedure(server):
    sender = new_sender()
    server.say(sender, "住民票の写しがほしいです")
    server.say(sender, "転入届を出したい")
    fee = server.say(sender, "手数料はいくら？")
    assert slot(server, sender, "procedure") == "moving_in"
    assert CATALOG.procedures["moving_in"].fee.text.ja in texts(fee)


def test_buttons_carry_the_procedure(server):
    sender = new_sender()
    first = server.say(sender, "戸籍謄本がほしい")
    fee_button = next(b for b in buttons(first) if b["payload"].startswith("/ask_fee"))
    reply = server.say(sender, fee_button["payload"])
    assert CATALOG.procedures["family_register"].fee.text.ja in texts(reply)


def test_follow_up_without_a_procedure_asks_which_one(server):
    sender = new_sender()
    reply = server.say(sender, "何を持っていけばいい？")
    assert CATALOG.phrases["ask_which_procedure"].ja in texts(reply)
    assert any(b["payload"] == "/residence_certificate" for b in buttons(reply))


def test_language_switch_is_kept_for_the_conversation(server):
    sender = new_sender()
    server.say(sender, "住民票の写しがほしい")
    switched = server.say(sender, "English please")
    assert CATALOG.phrases["language_switched"].en in texts(switched)
    # The last answer is repeated in the new language.
    assert CATALOG.procedures["residence_certificate"].summary.en in texts(switched)
    later = server.say(sender, "手数料は？")  # typed in Japanese, still answered in English
    assert CATALOG.procedures["residence_certificate"].fee.text.en in texts(later)
    assert all(m["lang"] == "en" for m in later)
    assert slot(server, sender, "language") == "en"


def test_easy_japanese_has_furigana(server):
    sender = new_sender()
    server.say(sender, '/change_language{"language":"easy"}')
    reply = server.say(sender, "住民票がほしい")
    procedure = CATALOG.procedures["residence_certificate"]
    assert any(m.get("ruby") and procedure.summary.easy in m["ruby"] for m in reply)
    assert any(m.get("variant") == "easy" and m["lang"] == "ja" for m in reply)
    assert "(" in texts(reply)  # readings in parentheses for plain-text channels


def test_english_question_gets_an_english_answer(server):
    reply = server.say(new_sender(), "I lost my My Number card")
    assert CATALOG.procedures["mynumber_lost"].summary.en in texts(reply)


def test_repeat_says_the_last_answer_again(server):
    sender = new_sender()
    first = server.say(sender, "印鑑登録をしたい")
    again = server.say(sender, "もう一度")
    assert texts(again) == texts(first)


def test_two_stage_fallback(server):
    sender = new_sender()
    first = server.say(sender, "ぴよぴよ ふがふが ほげほげ")
    assert CATALOG.phrases["fallback_candidates"].ja in texts(first)
    candidate_buttons = [b for b in buttons(first) if b["payload"] != "/nlu_fallback"]
    assert candidate_buttons, "the first fallback offers candidate procedures as buttons"
    second = server.say(sender, "もけもけ ぽこぽこ")
    assert CATALOG.phrases["fallback_human"].ja in texts(second)
    assert any(b["payload"] == "/request_human" for b in buttons(second))
    assert CATALOG.counters["shimin"].phone in texts(second)
    # The second stage also queued the conversation for staff (市民課 is open); leave the
    # queue, and understanding again resets the streak.
    assert server.tracker(sender)["paused"] is True
    server.say(sender, "/cancel_handoff")
    server.say(sender, "住民票がほしい")
    assert slot(server, sender, "fallback_streak") == 0.0


def test_counter_hours_know_the_calendar(server):
    reply = texts(server.say(new_sender(), "市役所は何時まで開いていますか"))
    assert "8:30" in reply.replace("08:30", "8:30") and "17:15" in reply
    current, upcoming = opening_hours.status(CATALOG.city, CATALOG.counters["shimin"], clock.now())
    # Whether it is open now comes first, then the hours.
    if current is not None:
        assert reply.startswith("市民課の窓口は今開いています")
    else:
        assert reply.startswith("市民課の窓口は今閉まっています")
        assert f"{upcoming.start.month}月{upcoming.start.day}日" in reply


def test_counter_location(server):
    reply = texts(server.say(new_sender(), "市役所へのバスでの行き方を教えて"))
    assert "サンプル市中央1-1-1" in reply and "市役所前" in reply


def test_life_event_checklist_walks_through_procedures(server):
    sender = new_sender()
    reply = server.say(sender, "引っ越しするんですが、何の手続きが必要ですか")
    payloads = [b["payload"] for b in buttons(reply)]
    expected = ["/moving_out", "/moving_in", "/national_health_insurance", "/child_allowance"]
    assert [p for p in payloads if p in expected] == expected   # in checklist order
    step = server.say(sender, "/moving_in")
    assert CATALOG.procedures["moving_in"].summary.ja in texts(step)


def test_pin_topics_always_say_the_city_never_asks_for_a_pin(server):
    never = CATALOG.phrases["pin_never_asked"].ja
    assert never in texts(server.say(new_sender(), "暗証番号を忘れてしまいました"))
    assert never in texts(server.say(new_sender(), "コンビニで住民票を取るときの暗証番号って何桁？"))


def test_my_number_is_redacted_before_storage_and_the_resident_is_warned(server):
    sender = new_sender()
    reply = server.say(sender, "私のマイナンバーは 1234 5678 9018 です。カードをなくしました")
    assert CATALOG.phrases["redacted_my_number"].ja in texts(reply)
    tracker = server.tracker(sender)
    user_texts = [e.get("text") for e in tracker["events"] if e["event"] == "user"]
    assert any("[個人番号]" in t for t in user_texts)
    for form in ("123456789018", "1234 5678 9018", "5678 9018"):
        assert form not in str(tracker["events"])
    # Nothing reached the SQLite tracker store either (whole file, any table, WAL included).
    for path in server.var_dir.glob("madoguchi.db*"):
        stored = path.read_bytes()
        for form in ("123456789018", "1234 5678 9018", "5678 9018"):
            assert form.encode() not in stored, path


def test_pin_is_redacted_and_warned(server):
    sender = new_sender()
    reply = server.say(sender, "暗証番号は4321です。ロックされました")
    assert CATALOG.phrases["redacted_pin"].ja in texts(reply)
    said = [e.get("text") or "" for e in server.tracker(sender)["events"] if e["event"] == "user"]
    assert said and all("4321" not in text for text in said) and any("[暗証番号]" in text for text in said)


def test_greeting_offers_languages_and_a_person(server):
    reply = server.say(new_sender(), "こんにちは")
    payloads = [b["payload"] for b in buttons(reply)]
    assert '/change_language{"language":"en"}' in payloads and "/request_human" in payloads


def test_request_human_when_the_counter_is_closed_offers_callback_and_visit_slip(server):
    sender = new_sender()
    server.say(sender, "児童手当の申請をしたい")          # こども家庭課: closed on Saturdays
    reply = server.say(sender, "人と話したい")
    assert "こども家庭課" in texts(reply) and "閉まっています" in texts(reply)
    assert {"/callback_request", "/visit_slip"} <= {b["payload"] for b in buttons(reply)}


def test_romaji_is_answered_in_japanese_and_english_in_english(server):
    """「sodaigomi dashikata」 is Japanese typed without an IME: the answer is Japanese (it used to
    come in English, as Latin letters were taken for English)."""
    sender = new_sender()
    reply = server.say(sender, "sodaigomi dashikata")
    assert slot(server, sender, "language") == "ja"
    assert "粗大ごみ" in texts(reply), texts(reply)
    english = new_sender()
    server.say(english, "How do I throw away a big old sofa?")
    assert slot(server, english, "language") == "en"
