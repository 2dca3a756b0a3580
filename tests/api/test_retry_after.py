"""A refusal by a rate limit says when to retry; the answers within the limits carry no limit
headers (each would cost Redis round trips on every request)."""

import pytest

from app import create_app
from app.settings import load_settings
from tests.api.conftest import bearer


@pytest.fixture
def limited(environment):
    app = create_app(load_settings({**environment, "ELIGSIM_RATE_LIMIT": "2 per minute"}))
    yield app
    app.extensions["registry"].dispose()


def test_only_a_refusal_says_when_to_retry(limited):
    client = limited.test_client()
    answers = [client.get("/api/v1/visits/none", headers=bearer("nope")) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [401, 401, 429]
    assert not any("X-RateLimit-Limit" in answer.headers for answer in answers)
    assert [("Retry-After" in answer.headers) for answer in answers] == [False, False, True]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    assert answers[-1].get_json()["error"]["code"] == "TOO_MANY_REQUESTS"
