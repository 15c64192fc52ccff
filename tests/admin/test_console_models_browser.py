"""The console's Models tab in real Chromium, on helper D's model API (/admin/api/models, jobs,
evaluation; contract in notes/admin-models-api.md): the running model is listed and its per-intent
precision/recall/F1 shows beside the running model's, with no axe-core violation.
Needs D's branch merged (the lead merges both): on the console branch alone /admin/api/models is 404."""
from tests.admin.test_console_browser import run


def test_models_tab_lists_the_running_model_and_its_evaluation(admin_server, admin_accounts):
    facts = run(admin_server, admin_accounts, "models")["models"]
    assert "error" not in facts, facts.get("error")
    assert facts["axeList"] == [], facts["axeList"]
    assert facts["running"] >= 0, facts["rows"]
    assert facts["evaluationHeaders"][:4] == ["意図", "適合率（新）", "再現率（新）", "F1（新）"]
    assert facts["evaluationHeaders"][4:] == ["適合率（稼働中）", "再現率（稼働中）", "F1（稼働中）"]
    assert facts["evaluationRows"] > 20 and facts["focus"] == "evaluation"
    assert facts["axeEvaluation"] == [] and facts["problems"] == []
