"""The admin API's declared bodies (no server) agree with the checkers they document."""
from __future__ import annotations

from bot.admin import faq_editor
from bot.admin.bodies import FaqForm, MissedToExamples, Train


def test_the_faq_form_documents_every_field_the_faq_checker_takes():
    assert set(FaqForm.__fields__) == set(faq_editor.FORM_FIELDS)


def test_what_the_consoles_send_passes():
    assert Train.parse_obj({}).force is False and Train.parse_obj({"force": True}).force is True
    body = MissedToExamples.parse_obj({"intent": "greet", "texts": [" こんにちは "], "version": None})
    assert body.texts == ["こんにちは"] and body.version is None
