"""Refusals answer OperationOutcome with the JSON API's status and stable code."""

import pytest

from app.fhir.outcomes import ERROR_CODE_SYSTEM
from tests.api.conftest import bearer, present_card
from tests.fhir.conftest import valid_r4


def refusal(response):
    assert response.mimetype == "application/fhir+json"
    outcome = valid_r4(response.get_json())
    assert outcome["resourceType"] == "OperationOutcome"
    coding = outcome["issue"][0]["details"]["coding"][0]
    assert coding["system"] == ERROR_CODE_SYSTEM
    return response.status_code, coding["code"]


@pytest.mark.parametrize(
    ("search", "category"),
    [("MedicationDispense?patient={}", "medication"), ("Observation?patient={}", "checkup")],
)
def test_records_without_consent_are_refused(client, keys, card, search, category):
    visit = present_card(client, keys["clinic"], card, {"limit_certificate": True}).get_json()
    response = client.get(
        "/fhir/r4/" + search.format(visit["visit_id"]), headers=bearer(keys["clinic"])
    )
    assert refusal(response) == (403, "CONSENT_REQUIRED")
    assert category in response.get_json()["issue"][0]["diagnostics"]


def test_expired_consent_is_refused(environment, keys, card):
    from app import create_app
    from app.settings import load_settings

    short = create_app(load_settings({**environment, "ELIGSIM_CONSENT_TTL_HOURS": "0.0000001"}))
    client = short.test_client()
    visit_id = present_card(client, keys["clinic"], card, {"medication": True}).get_json()[
        "visit_id"
    ]
    response = client.get(
        f"/fhir/r4/MedicationDispense?patient={visit_id}", headers=bearer(keys["clinic"])
    )
    assert refusal(response) == (403, "CONSENT_EXPIRED")
    short.extensions["registry"].dispose()


@pytest.mark.parametrize(
    "path", ["Patient/{}", "Coverage/{}", "Consent?patient={}", "MedicationDispense?patient={}"]
)
def test_another_institutions_visit_is_not_found(client, keys, card, path):
    consents = {"medication": True}
    visit_id = present_card(client, keys["clinic"], card, consents).get_json()["visit_id"]
    response = client.get("/fhir/r4/" + path.format(visit_id), headers=bearer(keys["pharmacy"]))
    assert refusal(response) == (404, "NOT_FOUND")


def test_keys_and_queries_are_checked(client, keys):
    assert refusal(client.get("/fhir/r4/Patient/x")) == (401, "AUTH_REQUIRED")
    wrong_kind = client.get("/fhir/r4/Patient/x", headers=bearer(keys["payer"]))
    assert refusal(wrong_kind) == (403, "AUTH_WRONG_KIND")
    no_patient = client.get("/fhir/r4/Consent", headers=bearer(keys["clinic"]))
    assert refusal(no_patient) == (422, "VALIDATION_FAILED")
    too_many = client.get("/fhir/r4/Consent?patient=x&_count=0", headers=bearer(keys["clinic"]))
    assert refusal(too_many) == (422, "VALIDATION_FAILED")


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("get", "/fhir/r4/Encounter/x", (404, "NOT_FOUND")),
        ("get", "/fhir/r4", (404, "NOT_FOUND")),
        ("post", "/fhir/r4/Patient/x", (405, "METHOD_NOT_ALLOWED")),
        ("delete", "/fhir/r4/metadata", (405, "METHOD_NOT_ALLOWED")),
    ],
)
def test_unknown_paths_and_methods_answer_an_operation_outcome(
    client, keys, method, path, expected
):
    response = getattr(client, method)(path, headers=bearer(keys["clinic"]))
    assert refusal(response) == expected
    if expected[0] == 405:
        assert "GET" in response.headers["Allow"]


def test_unknown_paths_elsewhere_keep_the_json_error(client):
    response = client.get("/api/v1/nowhere")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "NOT_FOUND"
