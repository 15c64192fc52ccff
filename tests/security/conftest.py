"""A second real server for the staff security tests: behind (pretend) HTTPS and one reverse proxy, with a short
call-back TTL, so cookie flags and the periodic purge can be seen without waiting days."""
import pytest

from tests.conftest import API_TOKEN, FAKE_NOW
from tests.devserver import running_server

SHORT_CALLBACK_TTL_SECONDS = 10


@pytest.fixture(scope="session")
def https_server(trained_model, tmp_path_factory):
    env = {"MADOGUCHI_FAKE_NOW": FAKE_NOW, "MADOGUCHI_PUBLIC_URL": "https://madoguchi.example.jp",
           "MADOGUCHI_CALLBACK_TTL": f"{SHORT_CALLBACK_TTL_SECONDS}s",
           "MADOGUCHI_TRUSTED_PROXIES": "1"}  # behind one reverse proxy, as a real HTTPS deployment is
    with running_server(tmp_path_factory.mktemp("var-https"), API_TOKEN, env) as running:
        yield running
