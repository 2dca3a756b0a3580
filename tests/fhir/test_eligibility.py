"""Eligibility as FHIR's own exchange: a CoverageEligibilityRequest answered with the same validity,
co-pay and limit bracket as the JSON API's check by numbers, through the same audited use case."""

import copy
import datetime as dt

import pytest

from app.fhir import eligibility as fhir_eligibility
from app.fhir import resources as jp
from payer_registry.records import PERSON_RECORD
from payer_registry.writer import upsert_record
from tests.api.conftest import bearer
from tests.api.test_portal import portal_token
from tests.fhir.conftest import valid_r4
from tests.fhir.test_refusals import refusal
from tests.registry.conftest import BASE_RECORD

SUBMIT = "/fhir/r4/CoverageEligibilityRequest/$submit"
NUMBERS = {"insurer_number": "06139992", "symbol": "12-34", "number": "5678", "branch": "01"}


def eligibility_request(birth_date="1980-05-01", limit_consent=None, **numbers):
    numbers = NUMBERS | numbers
    parts = (("Symbol", "symbol"), ("Number", "number"), ("SubNumber", "branch"))
    extensions = [
        {"url": f"{jp.EXTENSION}/JP_Coverage_InsuredPerson{part}", "valueString": numbers[key]}
        for part, key in parts
    ]
    request = {
        "resourceType": "CoverageEligibilityRequest",
        "id": "front-desk-1",
        "contained": [
            {"resourceType": "Patient", "id": "patient", "birthDate": birth_date},
            {
                "resourceType": "Organization",
                "id": "insurer",
                "identifier": [{"system": jp.INSURER_NUMBER, "value": numbers["insurer_number"]}],
            },
            {
                "resourceType": "Coverage",
                "id": "coverage",
                "extension": extensions,
                "status": "active",
                "beneficiary": {"reference": "#patient"},
                "payor": [{"reference": "#insurer"}],
            },
        ],
        "status": "active",
        "purpose": ["validation"],
        "patient": {"reference": "#patient"},
        "created": "2026-04-01",
        "insurer": {"reference": "#insurer"},
        "insurance": [{"coverage": {"reference": "#coverage"}}],
    }
    if limit_consent is not None:
        consent = {"url": fhir_eligibility.LIMIT_CONSENT, "valueBoolean": limit_consent}
        request["extension"] = [consent]
    return valid_r4(request)


def submit(client, key, request):
    response = client.post(SUBMIT, json=request, headers=bearer(key))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/fhir+json"
    return valid_r4(response.get_json())


def benefits(answer):
    (item,) = answer["insurance"][0]["item"]
    return {b["type"]["coding"][0]["code"]: b for b in item["benefit"]}


@pytest.mark.parametrize("consent", [True, False])
def test_submit_answers_as_the_json_check(client, keys, person, consent):
    key = keys["clinic"]
    json_check = client.post(
        "/api/v1/eligibility-checks",
        json={**NUMBERS, "birth_date": "1980-05-01", "limit_certificate_consent": consent},
        headers=bearer(key),
    ).get_json()["eligibility"]
    answer = submit(client, key, eligibility_request(limit_consent=consent))

    assert answer["outcome"] == "complete" and answer["disposition"] == json_check["validity"]
    assert answer["request"] == {"reference": "CoverageEligibilityRequest/front-desk-1"}
    assert answer["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "1"
    assert answer["insurance"][0]["inforce"] is True
    contained = {r["id"]: r for r in answer["contained"]}
    assert contained["coverage"]["status"] == "active"
    assert contained["insurer"]["identifier"][0]["value"] == json_check["insurer_number"]
    assert contained["patient"]["birthDate"] == json_check["birth_date"]
    found = benefits(answer)
    assert found["copay-percent"]["allowedUnsignedInt"] == json_check["copay_ratio"]
    if consent:
        bracket = json_check["limit_certificate"]["bracket_code"]
        assert found["limit-bracket"]["allowedString"] == bracket == "A03"
    else:
        assert "limit-bracket" not in found and "limit_certificate" not in json_check


@pytest.fixture
def elderly(registry):
    """A 72-year-old with an elderly certificate (co-pay 20%) valid this year."""
    today = dt.date.today()
    certificate = {
        "copay_ratio": 20,
        "valid_from": (today - dt.timedelta(days=200)).isoformat(),
        "valid_until": (today + dt.timedelta(days=200)).isoformat(),
        "issued_on": (today - dt.timedelta(days=230)).isoformat(),
    }
    record = {
        **copy.deepcopy(BASE_RECORD),
        "birth_date": today.replace(year=today.year - 72, day=1).isoformat(),
        "elderly_certificates": [certificate],
        "limit_certificates": [],
    }
    record["qualifications"][0]["insured_number"] = "06139992:12-34:7000:01"
    with registry.begin() as conn:
        upsert_record(conn, PERSON_RECORD.load(record))
    return record


def test_the_elderly_certificate_rides_on_the_coverage(client, keys, elderly):
    numbers = {"number": "7000", "birth_date": elderly["birth_date"]}
    json_check = client.post(
        "/api/v1/eligibility-checks",
        json={**NUMBERS, **numbers},
        headers=bearer(keys["clinic"]),
    ).get_json()["eligibility"]
    answer = submit(client, keys["clinic"], eligibility_request(**numbers))
    coverage = {r["id"]: r for r in answer["contained"]}["coverage"]
    (certificate,) = [e for e in coverage["extension"] if e["url"] == jp.ELDERLY_CERTIFICATE]
    parts = {part["url"]: part for part in certificate["extension"]}
    expected = json_check["elderly_certificate"]
    assert parts["copayRatio"]["valueQuantity"]["value"] == expected["copay_ratio"] == 20
    assert parts["period"]["valuePeriod"] == {
        "start": expected["valid_from"],
        "end": expected["valid_until"],
    }
    assert parts["issued"]["valueDate"] == expected["issued_on"]


def test_unknown_numbers_answer_an_error_outcome(client, keys, person):
    answer = submit(client, keys["clinic"], eligibility_request(number="9999"))
    assert (answer["outcome"], answer["disposition"]) == ("error", "not_found")
    assert answer["error"][0]["code"]["coding"][0]["code"] == "4"
    assert "insurance" not in answer


def test_submit_is_audited_like_the_json_check(client, keys, card):
    submit(client, keys["clinic"], eligibility_request(limit_consent=True))
    token = portal_token(client, card)
    log = client.get("/api/v1/portal/me/access-log", headers=bearer(token)).get_json()["entries"]
    first = log[0]
    assert (first["action"], first["category"], first["outcome"]) == (
        "eligibility_check",
        "limit_certificate",
        "valid",
    )


def test_bad_requests_are_refused_as_the_json_api_refuses_them(client, keys, person):
    key = keys["clinic"]
    bad_number = client.post(
        SUBMIT, json=eligibility_request(insurer_number="1"), headers=bearer(key)
    )
    assert refusal(bad_number) == (422, "VALIDATION_FAILED")
    assert "insurer_number" in bad_number.get_json()["issue"][0]["diagnostics"]
    other_purpose = eligibility_request() | {"purpose": ["benefits"]}
    assert refusal(client.post(SUBMIT, json=other_purpose, headers=bearer(key))) == (
        422,
        "VALIDATION_FAILED",
    )
    not_a_request = client.post(SUBMIT, json={"resourceType": "Patient"}, headers=bearer(key))
    assert refusal(not_a_request) == (422, "VALIDATION_FAILED")
    assert refusal(client.post(SUBMIT, json=eligibility_request())) == (401, "AUTH_REQUIRED")
    payer = client.post(SUBMIT, json=eligibility_request(), headers=bearer(keys["payer"]))
    assert refusal(payer) == (403, "AUTH_WRONG_KIND")
