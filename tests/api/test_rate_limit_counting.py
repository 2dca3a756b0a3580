"""How a request is counted against the limits it meets: the shortest window first, a refusal
spends none of the later limits, and the counts hold in memory, in Redis, and without a Redis that
answers."""

import pytest

from app import create_app
from app.settings import load_settings
from tests.api.conftest import bearer
from tests.api.test_batches import GOOD
from tests.api.test_rate_limits import check, clinic_keys

LIMITS = {"ELIGSIM_RATE_LIMIT": "2 per minute", "ELIGSIM_INQUIRY_RATE_LIMIT": "3 per hour"}
NO_REDIS_ANSWERS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture(params=["memory", "redis", "redis down"])
def counted(request, environment):
    """Apps with ``LIMITS``, counting in memory, in Redis, or with a Redis that does not answer."""
    where = {
        "memory": {},
        "redis": lambda: {"REDIS_URL": request.getfixturevalue("redis_url")},
        "redis down": {"REDIS_URL": NO_REDIS_ANSWERS},
    }[request.param]
    extra = where() if callable(where) else where
    app = create_app(load_settings({**environment, **LIMITS, **extra}), TESTING=True)
    yield app
    app.extensions["registry"].dispose()


def test_a_refused_check_spends_no_inquiry(counted):
    """The request limit (per minute) refuses the third check before the inquiry limit (per hour)
    counts it, so one inquiry of the three is left for another route that answers inquiries."""
    client, keys = counted.test_client(), clinic_keys(counted)
    assert [check(client, keys["clinic"]) for _ in range(4)] == [200, 200, 429, 429]
    assert fhir_submit(client, keys["clinic"]).status_code == 422  # counted, then refused: empty
    refused = fhir_submit(client, keys["clinic"])
    assert refused.status_code == 429
    assert refused.get_json()["issue"][0]["code"] == "throttled"
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600


def fhir_submit(client, key: str):
    return client.post("/fhir/r4/CoverageEligibilityRequest/$submit", json={}, headers=bearer(key))


def test_the_request_limit_names_itself_and_when_to_retry(counted):
    client, keys = counted.test_client(), clinic_keys(counted)
    answers = [
        client.post("/api/v1/eligibility-checks", json=GOOD, headers=bearer(keys["clinic"]))
        for _ in range(3)
    ]
    refusal = answers[-1]
    assert refusal.status_code == 429
    assert refusal.get_json()["error"] == {
        "code": "TOO_MANY_REQUESTS",
        "message": "2 per 1 minute",
        "details": {},
    }
    assert 1 <= int(refusal.headers["Retry-After"]) <= 60
    assert refusal.headers["X-Request-Id"]
