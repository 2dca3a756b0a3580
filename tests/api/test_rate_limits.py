"""Rate limits count against the account a key verifiably belongs to (the client's address without
one), batch lines count as inquiries, portal sign-ins are limited per address, and with Redis every
worker shares the counts."""

import secrets

import pytest

from app import create_app
from app.service.accounts import add_institution
from app.settings import SettingsError, load_settings
from tests.api.conftest import CLINIC, PHARMACY, bearer
from tests.api.test_batches import GOOD, UNKNOWN, submit

TIGHT = "5 per minute"


@pytest.fixture
def limited(environment, request):
    """An app with the limits the test names (``{"ELIGSIM_RATE_LIMIT": TIGHT}``, ...)."""
    app = create_app(load_settings({**environment, **request.param}), TESTING=True)
    yield app
    app.extensions["registry"].dispose()


def clinic_keys(app) -> dict:
    with app.extensions["registry"].begin() as conn:
        return {
            "clinic": add_institution(conn, CLINIC, "霞が関内科クリニック"),
            "pharmacy": add_institution(conn, PHARMACY, "かすみ薬局"),
        }


def forged(key: str) -> str:
    """A key with the real key's prefix and a made-up secret."""
    tag, prefix, _ = key.split("_")
    return f"{tag}_{prefix}_{secrets.token_urlsafe(32)}"


def made_up() -> str:
    return f"esk_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"


def open_session(client, key: str) -> int:
    return client.post("/api/v1/card-sessions", headers=bearer(key)).status_code


@pytest.mark.parametrize("limited", [{"ELIGSIM_RATE_LIMIT": TIGHT}], indirect=True)
def test_a_forged_key_with_a_clinics_prefix_does_not_spend_its_quota(limited):
    """Before: the limit was keyed on the key's unverified prefix, so forged keys used up the
    clinic's quota and the clinic's own requests got 429."""
    client, keys = limited.test_client(), clinic_keys(limited)
    attacks = [open_session(client, forged(keys["clinic"])) for _ in range(5)]
    assert attacks == [401] * 5
    assert [open_session(client, keys["clinic"]) for _ in range(5)] == [201] * 5
    assert open_session(client, keys["clinic"]) == 429  # the clinic's own five, no more
    assert open_session(client, keys["pharmacy"]) == 201  # another account, its own quota
    response = client.post("/api/v1/card-sessions", headers=bearer(forged(keys["clinic"])))
    assert (response.status_code, response.get_json()["error"]["code"]) == (
        429,
        "TOO_MANY_REQUESTS",
    )  # the forger's address has spent its own five


@pytest.mark.parametrize("limited", [{"ELIGSIM_RATE_LIMIT": TIGHT}], indirect=True)
def test_made_up_keys_share_the_address_limit(limited):
    """Before: each made-up prefix got a fresh quota, so rotating them escaped the address's limit
    on the unauthenticated portal sign-in (100 of 100 passed)."""
    client = limited.test_client()
    statuses = [
        client.post("/api/v1/portal/sessions", headers=bearer(made_up())).status_code
        for _ in range(7)
    ]
    assert statuses == [201] * 5 + [429] * 2


@pytest.mark.parametrize("limited", [{"ELIGSIM_PORTAL_RATE_LIMIT": "3 per minute"}], indirect=True)
def test_portal_sign_ins_are_limited_per_address_whatever_the_key(limited):
    """Opening a session and proving the card share one per-address limit; a valid institution key
    (its own account's quota elsewhere) does not lift it."""
    client, keys = limited.test_client(), clinic_keys(limited)
    session = client.post("/api/v1/portal/sessions").get_json()
    proof = client.post(
        f"/api/v1/portal/sessions/{session['session_id']}/verification",
        json={"certificate": "AAAA", "signature": "AAAA"},
    )
    assert proof.status_code == 422  # a refused card, and the second sign-in step spent
    third = client.post("/api/v1/portal/sessions", headers=bearer(keys["clinic"]))
    assert third.status_code == 201
    fourth = client.post("/api/v1/portal/sessions", headers=bearer(keys["clinic"]))
    assert fourth.status_code == 429
    assert "portal sign-ins" in fourth.get_json()["error"]["message"]
    assert open_session(client, keys["clinic"]) == 201  # the front-desk API is not affected


def check(client, key: str) -> int:
    body = {**GOOD, "confirmation_date": "2024-09-01"}
    return client.post("/api/v1/eligibility-checks", json=body, headers=bearer(key)).status_code


@pytest.mark.parametrize("limited", [{"ELIGSIM_INQUIRY_RATE_LIMIT": TIGHT}], indirect=True)
def test_a_batch_costs_one_inquiry_per_line(limited):
    """Before: a batch of any size cost one request, so 20,000 birth-date guesses cost one unit."""
    client, keys = limited.test_client(), clinic_keys(limited)
    assert (
        submit(client, keys["clinic"], [GOOD, UNKNOWN, {**UNKNOWN, "number": "1"}]).status_code
        == 202
    )
    assert [check(client, keys["clinic"]) for _ in range(3)] == [200, 200, 429]
    big = submit(client, keys["pharmacy"], [{**UNKNOWN, "number": str(n)} for n in range(6)])
    assert big.status_code == 429
    assert "inquiry limit" in big.get_json()["error"]["message"]


def test_with_redis_every_worker_counts_against_one_limit(environment, redis_url):
    """Two processes of the service (gunicorn workers) share the counts through Redis."""
    settings = load_settings(
        {**environment, "REDIS_URL": redis_url, "ELIGSIM_RATE_LIMIT": "4 per minute"}
    )
    workers = [create_app(settings, TESTING=True) for _ in range(2)]
    try:
        keys = clinic_keys(workers[0])
        clients = [worker.test_client() for worker in workers] * 3
        statuses = [open_session(client, keys["clinic"]) for client in clients[:5]]
        assert statuses == [201] * 4 + [429]
    finally:
        for worker in workers:
            worker.extensions["registry"].dispose()


def test_a_misspelt_limit_stops_the_service_from_starting(environment):
    """With storage errors swallowed, a limit the limiter cannot read would limit nothing."""
    with pytest.raises(SettingsError, match="ELIGSIM_PORTAL_RATE_LIMIT"):
        create_app(load_settings({**environment, "ELIGSIM_PORTAL_RATE_LIMIT": "thirty a minute"}))


def health_from(client, address: str) -> int:
    """A request that claims to come from ``address`` through a proxy (X-Forwarded-For)."""
    return client.get("/api/v1/health", headers={"X-Forwarded-For": address}).status_code


@pytest.mark.parametrize(
    "limited", [{"ELIGSIM_RATE_LIMIT": TIGHT, "ELIGSIM_PROXY_HOPS": "1"}], indirect=True
)
def test_behind_a_proxy_each_forwarded_client_counts_apart(limited):
    """The compose deployment's proxy forwards every client from one address: counted by that
    address, the clients would share one limit."""
    client = limited.test_client()
    assert [health_from(client, "203.0.113.5") for _ in range(6)] == [200] * 5 + [429]
    assert health_from(client, "203.0.113.6") == 200


@pytest.mark.parametrize("limited", [{"ELIGSIM_RATE_LIMIT": TIGHT}], indirect=True)
def test_without_a_proxy_a_claimed_address_escapes_no_limit(limited):
    client = limited.test_client()
    answers = [health_from(client, f"203.0.113.{n}") for n in range(6)]
    assert answers == [200] * 5 + [429]


@pytest.mark.parametrize("value", ["-1", "one", "6", "1.5", ""])
def test_proxy_hops_must_be_a_small_whole_number(environment, value):
    with pytest.raises(
        SettingsError, match="ELIGSIM_PROXY_HOPS must be a whole number from 0 to 5"
    ):
        load_settings({**environment, "ELIGSIM_PROXY_HOPS": value})
