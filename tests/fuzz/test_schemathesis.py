"""Schema-driven: schemathesis generates requests for every operation of the served OpenAPI documents
(the staff API at /staff/api/openapi.json, the admin API at /admin/api/openapi.json) and sends them
to the real server with a logged-in session and its CSRF token. Any 5xx, a response that breaks
the documented schema or content type, or a status the document does not list fails.

Not generated: the live event stream (it never ends), logging out (it would end the session the
other operations use) and the admin jobs that load a 1.5 GB model (train, evaluate, publish, roll back).
"""
from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.handoff.conftest import PASSWORD

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance, status_code_conformance]
BOUNDED = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
NOT_GENERATED = r"/(events|logout|login)$|/models/train$|/publish$|/rollback$|/evaluation$"


def logged_in(base_url: str, path: str, username: str) -> requests.Session:
    session = requests.Session()
    reply = session.post(f"{base_url}{path}", json={"username": username, "password": PASSWORD}, timeout=60)
    assert reply.status_code == 200, reply.text
    session.headers["X-CSRF-Token"] = reply.json()["csrf_token"]
    return session


@pytest.fixture
def staff_schema(hostile_server, hostile_accounts):
    return schemathesis.openapi.from_url(f"{hostile_server.base_url}/staff/api/openapi.json")


@pytest.fixture
def admin_schema(hostile_server, hostile_accounts):
    return schemathesis.openapi.from_url(f"{hostile_server.base_url}/admin/api/openapi.json")


@pytest.fixture(scope="module")
def staff_session(hostile_server, hostile_accounts) -> requests.Session:
    return logged_in(hostile_server.base_url, "/staff/api/login", hostile_accounts["staff"])


@pytest.fixture(scope="module")
def admin_session(hostile_server, hostile_accounts) -> requests.Session:
    return logged_in(hostile_server.base_url, "/admin/api/login", hostile_accounts["admin"])


# Filters belong on the lazy schema: it replaces the fixture's own.
staff = schemathesis.pytest.from_fixture("staff_schema").exclude(path_regex=NOT_GENERATED)
admin = schemathesis.pytest.from_fixture("admin_schema").exclude(path_regex=NOT_GENERATED)


@staff.parametrize()
@BOUNDED
def test_staff_api_against_its_document(case, hostile_server, staff_session):
    case.call_and_validate(base_url=f"{hostile_server.base_url}/staff/api", session=staff_session, checks=CHECKS,
                           timeout=60)


@admin.parametrize()
@BOUNDED
def test_admin_api_against_its_document(case, hostile_server, admin_session):
    case.call_and_validate(base_url=f"{hostile_server.base_url}/admin/api", session=admin_session, checks=CHECKS,
                           timeout=60)


def test_zz_afterwards_no_traceback_in_the_log(hostile_server):
    """Runs after the schema runs: a handled 4xx leaves no traceback in the server log either."""
    log = hostile_server.log_path.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log, log[log.index("Traceback") - 1000:log.index("Traceback") + 3000]
