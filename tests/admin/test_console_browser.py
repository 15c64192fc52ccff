"""The admin console in real Chromium: keyboard login, an invalid edit shown next to its field
(nothing saved), a valid edit previewed, diffed and saved (YAML written, comments kept), speech
preview, every view free of axe-core violations (WCAG 2.x A/AA incl. 2.2), no sideways scroll
at 320 px; a staff account is told it needs the admin role."""
import json
import os
import subprocess
import uuid

from bot.settings import PROJECT_ROOT
from tests.handoff.conftest import PASSWORD

SCRIPT = PROJECT_ROOT / "tests" / "web" / "admin.e2e.mjs"
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "web"
PROCEDURE = "family_register"


def run(server, accounts, *scenarios, **env):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, ADMIN_USER=accounts["admin"], ADMIN_PASSWORD=PASSWORD, STAFF_USER=accounts["staff"],
               WEB_ARTIFACTS=str(ARTIFACTS), CHROMIUM_PATH="/usr/bin/chromium", **env)
    done = subprocess.run(["node", str(SCRIPT), server.base_url, *scenarios], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_admin_console_in_a_browser(admin_server, admin_accounts):
    path = admin_server.procedure_file(PROCEDURE)
    original = path.read_text(encoding="utf-8")
    marker = f"【テスト{uuid.uuid4().hex[:4]}】"  # no kanji: it goes into the やさしい日本語 title too
    admin_server.say(f"browser-{uuid.uuid4().hex[:8]}", "住民票の写しがほしい")  # something to plot
    missed = f"ぽにょぽにょ ぱふぱふ {uuid.uuid4().hex[:4]}"
    admin_server.say(f"browser-{uuid.uuid4().hex[:8]}", missed)  # not understood: it reaches the inbox
    missed_faq = f"もけもけ ぴこぴこ {uuid.uuid4().hex[:4]}"
    admin_server.say(f"browser-{uuid.uuid4().hex[:8]}", missed_faq)  # …and this one becomes an FAQ entry
    new_faq = f"madobrowser_new_{uuid.uuid4().hex[:4]}"
    facts = run(admin_server, admin_accounts, "console", PROCEDURE=PROCEDURE, MARKER=marker, MISSED=missed,
                MISSED_FAQ=missed_faq, NEW_FAQ_ID=new_faq, NEW_FAQ_ANSWER="もけもけは市民課へ。（サンプル）")["console"]
    assert "error" not in facts, facts.get("error")
    assert facts["lang"] == "ja"
    for view, violations in facts["axe"].items():
        assert violations == [], (view, violations)
    # Every field of the catalog entry is in the form.
    assert {"section", "owner", "review_by", "human_only", "title", "summary", "audience", "deadline", "documents",
            "fee", "how", "related", "examples"} <= set(facts["fieldKeys"])

    invalid = facts["invalid"]
    assert invalid["error"].startswith("ふりがなのない漢字があります") and "戸籍" in invalid["error"]
    assert invalid["invalid"] == "true" and invalid["describedBy"] == invalid["slotId"] and invalid["besideInput"]
    assert invalid["focused"] and facts["reviewHiddenAfterInvalid"] and "保存していません" in facts["alert"]

    languages = {language: (lang, text) for language, lang, text in facts["preview"]}
    summary = "戸籍の証明書は市民課で取れます。"
    assert languages["ja"][0] == "ja" and marker in languages["ja"][1] and summary in languages["ja"][1]
    assert languages["en"][0] == "en" and languages["easy"][0] == "ja" and "こせき" in languages["easy"][1]
    assert facts["invalidAfterFix"] == 0 and facts["focusOnReview"] == "review"
    assert f"+  easy: \"{{戸籍|こせき}}の {{書類|しょるい}}{marker}\"" in facts["diff"]

    written = path.read_text(encoding="utf-8")
    assert "{戸籍|こせき}の {書類|しょるい}" + marker in written and summary + marker in written

    def comments(text):
        return [line for line in text.splitlines() if "#" in line]

    assert comments(original) == comments(written)
    assert len(original.splitlines()) == len(written.splitlines())
    assert len(facts["history"]) == 2 and "保存" in facts["history"][0] and "元のファイル" in facts["history"][1]
    assert facts["audio"].startswith("/audio/")

    assert facts["faqEditorFocused"] == "faq-editor"  # the FAQ view, its editor and import passed axe above
    faq_import = facts["faqImport"]
    assert "faq/madobrowser.yml (new category file): 1 new, 0 changed, 0 unchanged" in faq_import["summary"]
    assert faq_import["applyShown"] and faq_import["focused"] == "faq-import-review"
    assert not (admin_server.catalog_dir / "faq" / "madobrowser.yml").exists()  # a preview writes nothing
    assert facts["missedShown"] == 1 and facts["missedGone"] and facts["focusAfterMissed"] == "missed-title"
    assert missed in (admin_server.catalog_dir / "conversation.yml").read_text(encoding="utf-8")
    new = facts["newFaq"]
    assert new["focused"] == "faq-editor" and new["question"] == missed_faq
    assert "聞き取れなかった質問から" in new["title"]
    assert "FAQを作りました（" + new_faq + "）" in new["status"] and new["editorTitle"] == "FAQを編集：" + new_faq
    written = [path for path in (admin_server.catalog_dir / "faq").glob("*.yml")
               if f"id: {new_faq}" in path.read_text(encoding="utf-8")]
    assert len(written) == 1 and missed_faq in written[0].read_text(encoding="utf-8")
    assert facts["charts"] and all(c["svg"] and c["rows"] > 0 for c in facts["charts"])
    assert all(fits is True for fits in facts["narrow"].values()), facts["narrow"]
    assert facts["problems"] == []


def test_a_staff_account_is_told_it_needs_the_admin_role(admin_server, admin_accounts):
    facts = run(admin_server, admin_accounts, "forbidden")["forbidden"]
    assert "error" not in facts, facts.get("error")
    assert facts["consoleHidden"] and "管理者" in facts["heading"] and facts["apiStatus"] == 403
    assert facts["axe"] == [] and facts["problems"] == []
