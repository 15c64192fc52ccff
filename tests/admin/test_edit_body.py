"""The declared body of a procedure edit (no server): it names every field a procedure file may
have, and each wrong type becomes one problem at its field, in the checker's terms."""
from __future__ import annotations

from bot.admin.edit_body import ProcedureForm, form_problems
from bot.catalog.load import PROCEDURE_FIELDS


def test_the_form_declares_every_field_the_checker_knows():
    assert set(ProcedureForm.__fields__) == PROCEDURE_FIELDS


def test_wrong_types_are_named_as_the_checker_names_fields():
    problems = form_problems({"human_only": "false", "title": {"ja": ["印鑑", "登録"]}, "related": "moving_in",
                              "documents": {"easy": ["ok", 3]}, "fee": {"yen": 1.5}, "how": {"bus": {}},
                              "summary": {"ja": None}, "notes": "x"}, "procedures/x.yml")
    assert {p["field"]: p["message"] for p in problems} == {
        "human_only": "must be true or false", "title.ja": "must be a text", "related": "must be a list of texts",
        "documents.easy[1]": "must be a text", "fee.yen": "must be a whole number of yen",
        "how.bus": "unknown field", "summary.ja": "must not be null", "notes": "unknown field"}
    assert all(p["file"] == "procedures/x.yml" for p in problems)


def test_what_the_console_sends_passes():
    assert form_problems({"id": "x", "human_only": True, "fee": {"yen": "300", "ja": "", "en": "", "easy": ""},
                          "how": {"online": {"ja": "", "en": "", "easy": ""}}, "related": [],
                          "examples": {"ja": ["a"], "en": []}, "review_by": "2027-03-31"}, "f") == []
