"""Processes lease units of the shared Redis counters: a small limit still counts every request in
Redis, exactly; a large one needs a round trip for only a few requests, and two processes together
(two apps on one Redis here) never admit more than the limit."""

import threading

import pytest
import redis

from app import create_app
from app.settings import load_settings
from app.web import rate_limits
from tests.api.conftest import bearer
from tests.api.test_batches import UNKNOWN, submit
from tests.api.test_rate_limit_counting import fhir_submit
from tests.api.test_rate_limits import check, clinic_keys

LARGE = 1000
SMALL = 5


@pytest.fixture
def two_processes(environment, redis_url, request):
    """Two apps on one Redis, as two service processes, with the limits the test names."""
    settings = load_settings({**environment, "REDIS_URL": redis_url, **request.param})
    apps = [create_app(settings, TESTING=True) for _ in range(2)]
    yield apps
    for app in apps:
        app.extensions["registry"].dispose()


def round_trips(app, monkeypatch) -> list:
    """A list that grows by one at each script call of ``app``'s limits to Redis."""
    limits = app.extensions["request_limits"]
    calls = []
    script = limits._script

    def counting(*args, **kwargs):
        calls.append(kwargs["keys"])
        return script(*args, **kwargs)

    monkeypatch.setattr(limits, "_script", counting)
    return calls


def unauthenticated(client):
    """A cheap request (401), counted against the client's address."""
    return client.get("/api/v1/visits/none", headers=bearer("nope"))


def until_refused(client, admitted: list) -> None:
    """Requests until one is refused, each one admitted appended to ``admitted``."""
    while unauthenticated(client).status_code != 429:
        admitted.append(1)


def counters(redis_url: str) -> dict:
    connection = redis.Redis.from_url(redis_url)
    return {key: int(connection.get(key)) for key in connection.scan_iter("LIMITS:*")}


@pytest.mark.parametrize(
    "two_processes", [{"ELIGSIM_RATE_LIMIT": f"{SMALL} per minute"}], indirect=True
)
def test_a_small_limit_counts_every_request_in_redis_exactly(two_processes, monkeypatch):
    calls = [round_trips(app, monkeypatch) for app in two_processes]
    clients = [app.test_client() for app in two_processes]
    answers = [unauthenticated(clients[n % 2]) for n in range(SMALL + 2)]
    assert [answer.status_code for answer in answers] == [401] * SMALL + [429, 429]
    for refusal in answers[SMALL:]:  # on either process
        assert 1 <= int(refusal.headers["Retry-After"]) <= 60
    assert len(calls[0]) + len(calls[1]) == SMALL + 2  # one round trip per request, as before


@pytest.mark.parametrize(
    "two_processes", [{"ELIGSIM_RATE_LIMIT": f"{LARGE} per minute"}], indirect=True
)
def test_a_large_limit_needs_few_round_trips_and_is_never_exceeded(
    two_processes, monkeypatch, redis_url
):
    """Both processes go on to twice the limit: every refusal asks Redis, but of the requests
    admitted about one in ``lease_size`` (15 here) does."""
    calls = [round_trips(app, monkeypatch) for app in two_processes]
    clients = [app.test_client() for app in two_processes]
    answers = [unauthenticated(clients[n % 2]) for n in range(2 * LARGE)]
    refusals = [answer for answer in answers if answer.status_code == 429]
    assert len(answers) - len(refusals) == LARGE
    assert all(1 <= int(refusal.headers["Retry-After"]) <= 60 for refusal in refusals)
    assert list(counters(redis_url).values()) == [LARGE]
    admitting_trips = len(calls[0]) + len(calls[1]) - len(refusals)
    assert admitting_trips <= LARGE // rate_limits.lease_size(LARGE) + 2


@pytest.mark.parametrize(
    "two_processes", [{"ELIGSIM_RATE_LIMIT": f"{LARGE} per minute"}], indirect=True
)
def test_threads_of_two_processes_admit_the_limit_and_no_more(two_processes, redis_url):
    """Eight threads a process, as gunicorn runs them, each asking until it is refused."""
    admitted: list = []
    threads = [
        threading.Thread(target=until_refused, args=(app.test_client(), admitted))
        for app in two_processes
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == LARGE
    assert list(counters(redis_url).values()) == [LARGE]


@pytest.fixture
def batch_processes(rq_environment):
    """Two processes whose inquiry limit (130 an hour) leases 2 units at a time."""
    settings = load_settings({**rq_environment, "ELIGSIM_INQUIRY_RATE_LIMIT": "130 per hour"})
    apps = [create_app(settings, TESTING=True) for _ in range(2)]
    yield apps
    for app in apps:
        app.extensions["registry"].dispose()


def test_a_batch_costs_one_leased_unit_per_line(batch_processes):
    clients, keys = [app.test_client() for app in batch_processes], clinic_keys(batch_processes[0])
    lines = [{**UNKNOWN, "number": str(n)} for n in range(131)]
    assert submit(clients[0], keys["clinic"], lines[:100]).status_code == 202
    statuses = [check(clients[n % 2], keys["clinic"]) for n in range(40)]
    assert statuses.count(200) == 30
    assert statuses[-2:] == [429, 429]
    assert submit(clients[1], keys["pharmacy"], lines).status_code == 429
    assert submit(clients[1], keys["pharmacy"], lines[:130]).status_code == 202  # none spent


@pytest.mark.parametrize(
    "two_processes",
    [{"ELIGSIM_RATE_LIMIT": "198 per minute", "ELIGSIM_INQUIRY_RATE_LIMIT": "260 per hour"}],
    indirect=True,
)
def test_a_refusal_gives_back_the_later_limits_leased_units(two_processes):
    """198 checks lease 200 inquiries, 4 at a time. The checks the request limit (per minute, met
    first) refuses take a unit of the inquiry limit's lease (per hour) and give it back, so another
    route keeps the 62 left."""
    app = two_processes[0]
    client, keys = app.test_client(), clinic_keys(app)
    assert [check(client, keys["clinic"]) for _ in range(208)] == [200] * 198 + [429] * 10
    assert [fhir_submit(client, keys["clinic"]).status_code for _ in range(62)] == [422] * 62
    assert fhir_submit(client, keys["clinic"]).status_code == 429


@pytest.mark.parametrize(
    "two_processes", [{"ELIGSIM_RATE_LIMIT": f"{LARGE} per minute"}], indirect=True
)
def test_a_forked_process_does_not_spend_its_parents_leases(two_processes, monkeypatch):
    app = two_processes[0]
    calls, client = round_trips(app, monkeypatch), app.test_client()
    unauthenticated(client)
    unauthenticated(client)
    assert len(calls) == 1  # the second spent the lease the first took
    monkeypatch.setattr(rate_limits.os, "getpid", lambda: -1)
    unauthenticated(client)
    assert len(calls) == 2
