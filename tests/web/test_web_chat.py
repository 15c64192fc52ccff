"""The web chat page in a real browser (Debian's Chromium via playwright-core) against the real server.

Each test runs one scenario of tests/web/chat.e2e.mjs, which drives the page like a
resident would and reports what it saw; the assertions live here. axe-core checks
WCAG 2.0/2.1/2.2 A and AA at load, after three exchanges, in やさしい日本語 and in the
high-contrast theme. Screenshots of each state go to test-artifacts/web/.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest

from bot.catalog import load_catalog
from bot.settings import PROJECT_ROOT

SCRIPT = Path(__file__).with_name("chat.e2e.mjs")
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "web"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆]")


@pytest.fixture(scope="session")
def browser_ready() -> None:
    """The set-up (`make setup`) installs these; a missing one is a failure, not a skip."""
    missing = [what for what, ok in (
        ("node", shutil.which("node") is not None),
        (CHROMIUM, Path(CHROMIUM).exists()),
        ("node_modules/playwright-core", (PROJECT_ROOT / "node_modules" / "playwright-core").is_dir()),
        ("node_modules/axe-core", (PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js").is_file()),
    ) if not ok]
    assert not missing, f"browser tests need {missing}: run `make setup`"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)


def scenario(server, name: str, **extra: str) -> Dict[str, Any]:
    env = dict(os.environ, MADOGUCHI_API_TOKEN=server.token, WEB_ARTIFACTS=str(ARTIFACTS), CHROMIUM_PATH=CHROMIUM,
               **extra)
    done = subprocess.run(["node", str(SCRIPT), server.base_url, name], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])[name]
    assert "error" not in result, result["error"]
    return result


def no_violations(violations: List[Dict[str, Any]]) -> bool:
    if violations:
        print(json.dumps(violations, ensure_ascii=False, indent=1))
    return violations == []


def script_errors(result: Dict[str, Any]) -> List[str]:
    return [p for p in result.get("problems", []) if p.startswith("pageerror")]


pytestmark = pytest.mark.usefixtures("browser_ready")


def test_page_loads_with_landmarks_controls_and_no_axe_violations(server):
    r = scenario(server, "load")
    assert r["lang"] == "ja" and "サンプル市" in r["title"]
    assert r["log"] and r["status"] and r["alert"]
    assert r["languages"] == [["日本語", "ja", "BUTTON"], ["English", "en", "BUTTON"],
                              ["やさしい にほんご", "ja", "BUTTON"]]
    assert r["human"] == "人と話す"
    assert r["sizes"] == ["標準", "大", "特大"] and r["contrast"] == "false"
    assert r["micHidden"] is (not r["hasRecognition"])
    assert "市民課" in r["info"] and "0120-000-111" in r["info"] and "平日 08:30〜17:15" in r["info"]
    assert r["phoneHref"] == "tel:0120000111"
    assert r["rootServesPage"]
    # Finding 10: the conversation is a server-issued HttpOnly, SameSite=Strict cookie; nothing
    # identifying it is in the page's storage or its URL.
    assert r["cookie"] == {"httpOnly": True, "sameSite": "Strict", "path": "/", "length": 32}
    assert "sender" not in r["stored"] and "?" not in r["location"]
    assert no_violations(r["axe"]) and no_violations(r["axeInfo"])
    assert r["problems"] == []


def test_send_receive_click_a_button_and_three_exchanges_stay_accessible(server):
    r = scenario(server, "conversation")
    assert r["focusAfterSend"] == "message-input" and r["focusAfterButton"] == "message-input"
    assert r["allBots"] and set(r["allBots"]) == {"ja"}          # lang on every reply
    assert set(r["buttonTags"]) == {"BUTTON"}
    assert r["users"] == ["住民票がほしい", "手数料", "窓口は何時まで開いていますか"]   # a title, not "/ask_fee{...}"
    assert "300" in r["fee"]["text"]
    assert "17:15" in r["hours"]["text"] and "0120-000-111" in r["hours"]["text"]
    assert r["readAloud"] == r["botMessages"] >= 4
    assert r["buttonGroups"] == 1                                   # only the newest turn keeps its buttons
    assert no_violations(r["axe"])
    assert r["problems"] == []


def test_an_faq_answer_shows_the_citys_text_and_its_source_page(server):
    entry = load_catalog(PROJECT_ROOT / "intents").faq["garbage_bulky"]
    r = scenario(server, "faq", FAQ_QUESTION=entry.question["ja"])
    assert r["answer"]["text"].startswith(entry.answer["ja"])  # verbatim, first
    assert entry.url in r["answer"]["text"] and entry.updated.isoformat() in r["answer"]["text"]
    assert r["link"] == {"href": entry.url, "target": "_blank", "rel": "noopener noreferrer",
                         "text": entry.question["ja"], "lang": "ja", "height": r["link"]["height"]}
    assert r["link"]["height"] >= 24  # a target large enough to tap
    assert no_violations(r["axe"])
    assert r["problems"] == []


def test_language_switch_easy_japanese_has_furigana_everywhere(server):
    r = scenario(server, "languages")
    easy = r["easy"]
    assert easy["lang"] == "ja" and easy["variant"] == "easy" and easy["pressed"] == "true"
    assert easy["lastUser"] == "やさしい にほんご"
    assert easy["rtVisible"] and easy["furiganaToggleHidden"]
    assert easy["chromeRuby"] > 5
    assert r["bareInEasyReplies"] == "" and r["bareAfterQuestion"] == ""
    assert r["bareInChrome"] == ""                                  # the page's own words too
    assert no_violations(r["axe"])
    english = r["english"]
    assert english["lang"] == "en" and english["replyLang"] == "en"
    assert english["send"] == "Send" and english["human"] == "Talk to a person" and english["lastUser"] == "English"
    assert not KANJI.search(r["englishReply"]["text"])
    assert script_errors(r) == []


def test_new_conversation_clears_the_screen_and_keeps_the_chosen_language(server):
    r = scenario(server, "newConversation")
    cleared = r["cleared"]
    assert cleared["messages"] == 0 and cleared["introVisible"] and cleared["focus"] == "message-input"
    assert cleared["sender"] != r["oldSender"]
    assert r["oldKept"] > 0                                         # the old conversation stays on the server
    assert r["users"] == ["やさしい にほんご", "じゅうみんひょうが ほしい"]
    assert r["variant"] == "easy" and r["bare"] == ""
    assert "じゅうみんひょう" in r["reply"]
    assert r["problems"] == []


def test_furigana_toggle_in_standard_japanese(server):
    r = scenario(server, "furigana")
    assert r["toggleHidden"] is False
    assert r["before"] == "none" and r["after"] not in (None, "none")
    assert r["pressed"] == "true" and r["persisted"] == "true" and r["afterReload"] not in (None, "none")
    assert r["offAgain"] == "none"
    assert no_violations(r["axe"])


def test_keyboard_only_from_start_to_a_bot_button(server):
    r = scenario(server, "keyboard")
    first, ja, en, easy, human = r["steps"]
    assert first["tag"] == "A" and first["text"] == "入力欄へ移動"
    assert [ja["text"], en["text"], easy["text"]] == ["日本語", "English", "やさしい にほんご"]
    assert human["id"] == "human-button"
    assert all(step["ring"] for step in r["steps"])                 # visible focus ring
    assert r["afterSkip"]["id"] == "message-input"
    assert r["afterSend"]["id"] == "message-input"
    assert r["choice"]["tag"] == "BUTTON" and r["choice"]["ring"]
    assert r["afterChoice"]["id"] == "message-input"
    assert r["users"][0] == "住民票がほしい"
    assert r["users"][1] == r["choice"]["text"].replace("（", "(").replace("）", ")")
    assert r["draft"] == "一行目\n二行目" and r["pending"] == 0


def test_reload_restores_the_conversation(server):
    r = scenario(server, "reload")
    before, after = r["beforeReload"], r["afterReload"]
    assert after["ids"] == before["ids"] and after["texts"] == before["texts"]
    assert after["texts"][3] == "持ち物"                             # the button's title survives
    assert after["buttonGroups"][-1] > 0 and not any(after["buttonGroups"][:3])
    assert after["draft"] == "まだ送っていない文" and after["introHidden"]
    assert "300" in r["fee"]["text"]


def test_320px_reflow_large_targets_and_remembered_text_size(server):
    r = scenario(server, "reflow")
    for state in ("atLoad", "afterChat", "largest"):
        assert r[state]["scrollWidth"] <= r[state]["clientWidth"] == 320, state
    assert r["small"] == [] and r["smallLargest"] == []
    assert r["sizeKept"] == "3" and r["sizePressed"] == "true" and r["rootSize"] == "26px"
    assert no_violations(r["axe"])


def test_html_and_script_in_messages_are_shown_as_text(server):
    r = scenario(server, "xss")
    assert r["shown"] == {"text": r["attack"], "children": 0}
    assert r["live"] == {"xss": None, "injected": 0, "ruby": 0}
    assert r["restored"] == {"text": r["attack"], "xss": None, "injected": 0}


def test_a_5000_character_message_and_a_silent_server_get_clear_notices(server):
    r = scenario(server, "limits")
    too_long = r["tooLong"]
    assert "長すぎます" in too_long["alert"] and "5000" in too_long["alert"] and "2000" in too_long["alert"]
    assert too_long["kept"] == 5000 and too_long["posts"] == 0 and too_long["userBubbles"] == 0
    assert "3000文字多すぎます" in too_long["count"] and too_long["focus"] == "message-input"
    timeout = r["timeout"]
    assert "返信がありませんでした" in timeout["alert"] and "もう一度送る" in timeout["alert"]
    assert timeout["kept"] == "窓口はどこですか" and timeout["pending"] == 0


def test_server_outage_shows_a_retry_notice_and_loses_nothing(server):
    r = scenario(server, "outage")
    assert "接続が切れました" in r["lost"]["alert"] and r["lost"]["button"] == "今すぐつなぎ直す"
    failed = r["failedSend"]
    assert "送信できませんでした" in failed["alert"] and failed["kept"] == "手数料はいくらですか"
    assert failed["pending"] == 0 and failed["users"] == 1
    assert r["directStatus"] == 200
    assert r["caughtUp"]["users"] == ["こんにちは", "住民票がほしい"]       # missed messages arrive on reconnect
    assert len(r["caughtUp"]["ids"]) == len(set(r["caughtUp"]["ids"]))      # once each
    recovered = r["recovered"]
    assert recovered["alert"] == "" and recovered["input"] == "" and recovered["focus"] == "message-input"
    assert recovered["users"] == ["こんにちは", "住民票がほしい", "手数料はいくらですか"]
    assert "300" in recovered["reply"]
    assert script_errors(r) == []


def test_high_contrast_theme_is_remembered_and_accessible(server):
    r = scenario(server, "contrast")
    assert r["theme"] == "high-contrast" and r["pressed"] == "true" and r["kept"] == "high-contrast"
    assert r["background"] == "rgb(0, 0, 0)" and r["color"] == "rgb(255, 255, 255)"
    assert no_violations(r["axe"])


def test_messages_arrive_live_without_reload(server):
    r = scenario(server, "live")
    assert r["secondAfter"]["user"] == r["secondBefore"]["user"] + 1        # the other tab saw the turn
    assert r["secondAfter"]["bot"] > r["secondBefore"]["bot"]
    assert r["triggered"] == 200
    assert "17:15" in r["pushed"]["text"] and r["pushed"]["lang"] == "ja"
    assert r["status"] == "返信が届きました。"
    pushed_text = r["pushed"]["text"]
    assert r["afterReload"].count(pushed_text) == 1
    assert r["staffStatus"] == 200
    assert "msg--staff" in r["staff"]["className"] and r["staff"]["who"] == "職員（山田）"
    assert r["staff"]["text"].startswith("市民")
    assert r["staffAfterReload"] == ["職員（山田）"]                 # restored once, still labelled
    # 読み上げ on every message the server has stored (it reads by id), once each; a pushed message
    # gets its button when its stored copy arrives.
    for shown in (r["speakableLive"], r["speakable"]):
        assert [m["speak"] for m in shown] == [1 if m["id"] else 0 for m in shown]
    assert any(m["id"] is None for m in r["speakableLive"])
    assert all(m["id"] and m["speak"] == 1 for m in r["speakable"])
    assert any(m["text"].startswith("市民") for m in r["speakable"])      # the clerk's reply too
    assert script_errors(r) == []


def test_read_aloud_plays_the_servers_voice_with_pace_and_stop_and_no_browser_voice(server):
    """Kiosk Chromium has no speech voice (here speechSynthesis is removed): 読み上げ plays audio
    made by the server, ゆっくり/ふつう pick another file, stop pauses it, one message at a time."""
    r = scenario(server, "voice")
    assert r["beforeClick"]["src"] is None and r["beforeClick"]["paused"]          # nothing plays by itself
    assert r["buttonCount"] >= 1
    slow = r["slow"]
    assert re.fullmatch(r"/audio/[0-9a-f]{32}\.mp3", slow["src"]) and slow["currentSrc"].endswith(slow["src"])
    assert not slow["paused"] and slow["currentTime"] > 0.3 and slow["duration"] > 2   # the server's audio is playing
    assert slow["pressed"] == [0] and slow["label"] == "読み上げ" and slow["stopVisible"]
    assert slow["status"] == "読み上げ中"                                              # said in the live region
    assert slow["pace"] == [["ゆっくり", "true"], ["ふつう", "false"]]
    normal = r["normal"]
    assert normal["src"] != slow["src"] and not normal["paused"] and normal["currentTime"] > 0.3
    assert normal["pace"] == [["ゆっくり", "false"], ["ふつう", "true"]] and normal["storedPace"] == "normal"
    assert normal["duration"] < slow["duration"]                                      # ふつう is faster
    assert normal["pressed"] == [0]
    stopped = r["stopped"]
    assert stopped["paused"] and stopped["src"] is None and stopped["pressed"] == []
    assert not stopped["stopVisible"] and stopped["status"] == "" and stopped["focus"] == "message-input"
    assert r["first"]["pressed"] == [0]
    second = r["second"]                                                              # by keyboard (Space)
    assert second["pressed"] == [r["total"] - 1] and not second["paused"] and second["src"] != r["first"]["src"]
    assert r["escaped"]["paused"] and r["escaped"]["pressed"] == []
    assert [post["pace"] for post in r["speechPosts"]] == ["slow", "normal", "normal", "normal"]
    assert all(set(post) == {"id", "pace"} and post["id"].startswith("b") for post in r["speechPosts"])
    assert r["audioReplies"] and all(a["status"] in (200, 206) and a["type"] == "audio/mpeg" for a in r["audioReplies"])
    assert r["afterReload"]["pace"] == [["ゆっくり", "false"], ["ふつう", "true"]]       # the choice is remembered
    mic = r["mic"]
    assert mic["supported"] and mic["visible"] and mic["describedBy"] == "mic-notice"
    assert "音声認識" in mic["notice"] and "Google" in mic["notice"]
    assert "Google" in r["easyNotice"] and "よみあげ" in r["easyPace"]
    english = r["english"]
    assert "Google" in english["notice"] and english["pace"] == "Reading speed"
    assert english["paces"] == ["Slow", "Normal"] and english["speak"] == "Read aloud"
    assert r["micWithout"] == {"visible": False, "notice": False}
    assert no_violations(r["axePlaying"]) and no_violations(r["axeEnglish"]) and no_violations(r["axeWithout"])
    assert set(r["refusedStatuses"]) == {200}
    refused = r["refused"]
    assert "多すぎます" in refused["alert"] and refused["pressed"] == 0 and not refused["stopVisible"]
    assert refused["src"] is None and refused["status"] == ""
    assert [p for p in r["refusedProblems"] if "429 (Too Many Requests)" not in p] == []
    assert r["problems"] == []


def test_print_and_save_the_conversation(server):
    r = scenario(server, "print")
    assert re.fullmatch(r"madoguchi-\d{12}\.txt", r["filename"])
    saved = r["saved"]
    assert "マイナンバーカードを受け取りたい" in saved and "0120-000-111" in saved and "市民課" in saved
    assert "{" not in saved and "<" not in saved
    printed = r["printed"]
    assert printed["composer"] == "none" and printed["toolbar"] == "none" and printed["transcript"] != "none"
    assert printed["infoOpen"] and printed["stamp"].startswith("印刷日時")
    assert r["pdfBytes"] > 10000


def test_one_script_tag_embeds_the_chat_on_another_site(server):
    r = scenario(server, "widget")
    assert r["closedState"] == "false" and r["openState"] == "true"
    assert "窓口案内チャット" in r["frameTitle"]
    assert r["afterClose"] == {"expanded": "false", "focus": "madoguchi-widget-panel"}
    # Embedded cross-site, the conversation lives in the page load only: a token in memory,
    # no cookie, nothing in storage.
    assert r["inFrame"]["token"] and "sender" not in r["inFrame"]["stored"] and "token" not in r["inFrame"]["stored"]
    assert "madoguchi_web" not in r["cookies"]
    assert r["frameAudio"]["src"].startswith("/audio/") and not r["frameAudio"]["paused"]   # 読み上げ embedded
    assert r["frameAllow"] == "microphone; autoplay"
    assert r["problems"] == []


def test_delete_this_conversation_asks_first_then_leaves_nothing_on_the_server(server):
    r = scenario(server, "deleteConversation")
    assert r["usersBefore"] == 2
    dialog = r["dialog"]
    assert dialog["open"] and dialog["modal"] and dialog["focus"] == "delete-cancel"   # the safe choice first
    assert dialog["title"] == "この会話を消しますか？" and "元には戻せません" in dialog["text"]
    assert dialog["buttons"] == ["やめる", "消す"]
    assert no_violations(r["axeDialog"])
    assert r["afterEscape"] == {"open": False, "messages": r["afterEscape"]["messages"]}
    assert r["afterEscape"]["messages"] > 0
    deleted = r["deleted"]
    assert "消しました" in deleted["status"] and "来庁票1枚" in deleted["status"]   # told plainly what went
    assert deleted["oldUsers"] == 0 and deleted["newConversation"]
    assert deleted["focus"] == "message-input" and deleted["introVisible"] and not deleted["dialogOpen"]
    assert no_violations(r["axeAfter"])
    assert r["afterReload"] == 0 and r["fresh"] == ["こんにちは"]
    assert script_errors(r) == []


def test_kiosk_counts_down_visibly_then_the_next_resident_starts_afresh(server):
    r = scenario(server, "kiosk")
    countdown = r["countdown"]
    assert countdown["role"] == "alertdialog" and countdown["title"] == "続けますか？"
    assert "秒" in countdown["seconds"] and "続ける" in countdown["live"] and countdown["liveMode"] == "assertive"
    assert countdown["focus"] == "kiosk-continue" and countdown["messages"] > 0
    assert no_violations(r["axeCountdown"])
    assert r["continued"]["hidden"] and r["continued"]["messages"] == countdown["messages"]
    reset = r["reset"]
    assert reset["messages"] == 0 and reset["countdownHidden"] and reset["input"] == ""
    assert reset["newConversation"] and reset["history"] == 0 and "消しました" in reset["status"]
    assert r["oldKept"] > 0                       # the previous conversation stays for the staff, not on the screen
    assert no_violations(r["axeReset"])
    assert script_errors(r) == []


def test_a_ninth_tab_gets_a_polite_note_and_no_tab_is_pushed_out(server):
    r = scenario(server, "tooManyTabs")
    assert r["held"] == [200] * 7
    assert "タブが多すぎる" in r["note"]["alert"] and r["note"]["button"] == "今すぐつなぎ直す"
    assert no_violations(r["axeNote"])
    assert r["firstStillOpen"]
    assert r["recovered"] == ""
    assert script_errors(r) == []
