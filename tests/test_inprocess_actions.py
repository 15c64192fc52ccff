"""Rasa's check of every action result, as the in-process endpoint leaves it: same verdicts."""
import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from bot.actions.inprocess import InProcessActionEndpoint

GOOD = {"events": [{"event": "slot", "name": "language", "value": "ja"}], "responses": [{"text": "こんにちは"}]}


@pytest.fixture(scope="module")
def action():
    InProcessActionEndpoint([])  # installs the checked-once schema validation
    return RemoteAction("action_madoguchi", None)


def test_a_valid_result_passes(action):
    assert action._validate_action_result(GOOD) is True


@pytest.mark.parametrize("result", [
    {"events": "not a list", "responses": []},
    {"events": [{"event": "no_such_event"}], "responses": []},
    {"events": [], "responses": [3]},
])
def test_an_invalid_result_is_refused_with_rasas_message(action, result):
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result(result)


def test_the_schema_is_not_checked_again_per_result(action):
    """The stock check validates the constant schema against the meta-schema on every call."""
    import jsonschema.validators

    checked = []
    original = jsonschema.validators.Draft202012Validator.check_schema
    jsonschema.validators.Draft202012Validator.check_schema = classmethod(
        lambda cls, schema, *a, **k: checked.append(schema) or original.__func__(cls, schema, *a, **k))
    try:
        for _ in range(3):
            action._validate_action_result(GOOD)
    finally:
        jsonschema.validators.Draft202012Validator.check_schema = original
    assert checked == []
