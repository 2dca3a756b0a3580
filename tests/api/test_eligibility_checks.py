"""Eligibility by insurance-card numbers: eligibility only, the limit certificate under consent."""

import pytest

from app.service.audit import verify_chain
from payer_registry.records import PERSON_RECORD
from payer_registry.writer import upsert_record
from tests.api.conftest import SAMPLE_CHECK, bearer
from tests.registry.conftest import DETAILED_RECORD

CHECK = {**SAMPLE_CHECK, "confirmation_date": "2024-09-01"}


def post_check(client, key, **changes):
    return client.post("/api/v1/eligibility-checks", json={**CHECK, **changes}, headers=bearer(key))


def test_valid_person_without_consent_sees_no_limit_certificate(client, keys, person):
    response = post_check(client, keys["clinic"])
    assert response.status_code == 200
    eligibility = response.get_json()["eligibility"]
    assert eligibility["validity"] == "valid"
    assert eligibility["copay_ratio"] == 30
    assert eligibility["branch"] == "01"
    assert eligibility["insurer_name"] == "霞が関健康保険組合"
    assert "limit_certificate" not in eligibility
    assert "specific_diseases" not in eligibility


def test_limit_certificate_with_recorded_consent(client, keys, person):
    response = post_check(client, keys["clinic"], limit_certificate_consent=True)
    limit = response.get_json()["eligibility"]["limit_certificate"]
    assert (limit["bracket_code"], limit["bracket_label"]) == ("A03", "ウ")


def test_the_result_carries_the_certificate_details_and_the_real_systems_codes(
    client, keys, registry
):
    with registry.begin() as conn:
        upsert_record(conn, PERSON_RECORD.load(DETAILED_RECORD))
    response = post_check(client, keys["clinic"], limit_certificate_consent=True)
    assert response.status_code == 200
    eligibility = response.get_json()["eligibility"]
    assert (eligibility["validity"], eligibility["validity_code"]) == ("valid", "1")
    assert (eligibility["relationship"], eligibility["relationship_code"]) == ("self", "1")
    assert eligibility["post_code"] == "100-0013"
    assert eligibility["card_classification"] == "01"
    assert eligibility["certificate_issued_on"] == "2015-04-01"
    assert eligibility["card_valid_from"] == "2015-04-01"
    assert eligibility["card_valid_until"] is None
    limit = eligibility["limit_certificate"]
    assert (limit["issued_on"], limit["long_term_on"]) == ("2024-08-01", None)


def test_a_person_without_the_details_gets_nulls(client, keys, person):
    eligibility = post_check(client, keys["clinic"]).get_json()["eligibility"]
    assert eligibility["relationship_code"] == "1"
    assert eligibility["post_code"] is None
    assert eligibility["certificate_issued_on"] is None


def test_wrong_birth_date_finds_nobody(client, keys, person):
    response = post_check(client, keys["clinic"], birth_date="1980-05-02")
    assert response.get_json()["eligibility"] == {
        "validity": "not_found",
        "validity_code": "4",
        "confirmed_on": "2024-09-01",
    }


def test_every_check_is_audited(client, keys, person, registry):
    post_check(client, keys["clinic"])
    post_check(client, keys["pharmacy"], number="9999")
    with registry.connect() as conn:
        report = verify_chain(conn)
    assert (report.entries, report.intact) == (2, True)


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "AUTH_REQUIRED"),
        ({"Authorization": "Bearer esk_nothing_here"}, 401, "AUTH_INVALID"),
        ({"Authorization": "Basic abc"}, 401, "AUTH_REQUIRED"),
    ],
)
def test_missing_or_wrong_keys(client, keys, headers, status, code):
    response = client.post("/api/v1/eligibility-checks", json=CHECK, headers=headers)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


def test_payer_key_is_the_wrong_kind(client, keys):
    response = post_check(client, keys["payer"])
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "AUTH_WRONG_KIND"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"insurer_number": "06139993"}, "insurer_number"),
        ({"branch": "1"}, "branch"),
        ({"birth_date": "1980-02-30"}, "birth_date"),
        ({"my_number": "123456789012"}, "my_number"),
        ({"number": ""}, "number"),
    ],
)
def test_bad_input_is_422_with_the_field(client, keys, changes, field):
    response = post_check(client, keys["clinic"], **changes)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "VALIDATION_FAILED"
    assert field in error["details"]["json"]


def test_body_that_is_not_json(client, keys):
    response = client.post(
        "/api/v1/eligibility-checks",
        data="not json",
        headers={**bearer(keys["clinic"]), "Content-Type": "application/json"},
    )
    assert response.status_code in (400, 422)
    assert "error" in response.get_json()


def test_oversized_body_is_refused(client, keys):
    response = client.post(
        "/api/v1/eligibility-checks",
        data="x" * (5 << 20),
        headers={**bearer(keys["clinic"]), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "REQUEST_ENTITY_TOO_LARGE"


def test_rate_limit_per_key(environment, keys, person):
    from app import create_app
    from app.settings import load_settings

    settings = load_settings({**environment, "ELIGSIM_RATE_LIMIT": "3 per minute"})
    limited = create_app(settings).test_client()
    statuses = [post_check(limited, keys["clinic"]).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert post_check(limited, keys["clinic"]).get_json()["error"]["code"] == "TOO_MANY_REQUESTS"
    assert (
        post_check(limited, keys["pharmacy"]).status_code == 200
    )  # another key has its own budget
