"""Every scenario through the API, as the front desk meets it: card scenarios through a card session
and verification with the scenario's virtual card, number scenarios through /eligibility-checks,
medical ones through the visit pages under the scenario's consents. What is asserted comes from each
scenario's definition; test_definitions.py pins the definitions to literal facts."""

from __future__ import annotations

import pytest

from app.service.accounts import add_reader_key
from app.training.scenario_records import POST_CODE
from app.training.scenarios import PLANNED_DAYS, CardSetup, Method, Scenario
from card_reader.errors import PinLastTry, PinLocked, WrongPin
from card_reader.face_reader import FaceReader
from card_reader.jpki import JpkiClient
from card_reader.transport import InProcessTransport
from payer_registry.eligibility import VALIDITY_CODES, Validity
from tests.api.conftest import bearer, present_card
from tests.api.test_face_mode import face_answer, verify_face
from tests.scenarios.conftest import CLINIC, SCENARIOS

RECORD_PAGES = {
    "medication": "medications",
    "checkup": "checkups",
    "clinical": "clinical",
    "surgery": "surgeries",
}
PIN_STATES = (CardSetup.ONE_TRY_LEFT, CardSetup.LOCKED)


def _ids(selected: list[Scenario]) -> dict:
    return {"argvalues": selected, "ids": [s.slug for s in selected]}


def _select(condition) -> dict:
    return _ids([s for s in SCENARIOS.values() if condition(s)])


def assert_eligibility(eligibility: dict, scenario: Scenario) -> None:
    expected = scenario.expected
    assert eligibility["validity"] == expected.validity
    assert eligibility["validity_code"] == VALIDITY_CODES[Validity(expected.validity)]
    if "name" in eligibility:  # the person was found
        assert eligibility["post_code"] == POST_CODE
        assert eligibility["certificate_issued_on"] == eligibility["card_valid_from"]
    if expected.copay_ratio is not None:  # None: no ratio to bill by (it may still be shown)
        assert eligibility["copay_ratio"] == expected.copay_ratio
    limit = eligibility.get("limit_certificate")
    assert (limit or {}).get("bracket_code") == expected.limit_bracket
    diseases = [d["category"] for d in eligibility.get("specific_diseases") or []]
    assert diseases == ([expected.specific_disease] if expected.specific_disease else [])


def visit(client, key: str, card, scenario: Scenario):
    return present_card(client, key, card, dict.fromkeys(scenario.consents, True))


@pytest.mark.parametrize(
    "scenario",
    **_select(
        lambda s: s.method is Method.CARD and s.card not in PIN_STATES and s.expected.validity
    ),
)
def test_card_scenario_shows_its_eligibility_and_records(client, clinic_key, cards, scenario):
    response = visit(client, clinic_key, cards(scenario), scenario)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert_eligibility(body["eligibility"], scenario)
    for category, count in scenario.expected.records.items():
        page = client.get(
            f"/api/v1/visits/{body['visit_id']}/{RECORD_PAGES[category]}",
            headers=bearer(clinic_key),
        )
        assert (page.status_code, page.get_json()["total"]) == (200, count)


@pytest.mark.parametrize("scenario", **_select(lambda s: s.expected.refusal and s.expected.refusal.startswith(("CARD_", "CERT_"))))  # fmt: skip
def test_card_scenario_is_refused_by_the_service(client, clinic_key, cards, scenario):
    response = visit(client, clinic_key, cards(scenario), scenario)
    assert (response.status_code, response.get_json()["error"]["code"]) == (
        422,
        scenario.expected.refusal,
    )


@pytest.mark.parametrize("scenario", **_select(lambda s: s.method is Method.NUMBERS))
def test_number_scenario(client, clinic_key, scenario):
    check = scenario.check
    body = {
        "insurer_number": check.insurer_number,
        "symbol": check.symbol,
        "number": check.number,
        "branch": check.branch,
        "birth_date": check.birth_date.isoformat(),
        "limit_certificate_consent": "limit_certificate" in scenario.consents,
    }
    response = client.post("/api/v1/eligibility-checks", json=body, headers=bearer(clinic_key))
    assert response.status_code == 200, response.get_json()
    assert_eligibility(response.get_json()["eligibility"], scenario)


def test_the_pin_with_one_try_left_is_not_sent_unless_forced(client, clinic_key, cards):
    scenario = SCENARIOS["pin-one-try-left"]
    card = cards(scenario)
    reader = JpkiClient(InProcessTransport(card))
    with pytest.raises(PinLastTry) as refused:
        reader.verify_auth_pin("1234")
    assert refused.value.code == scenario.expected.refusal
    reader.verify_auth_pin("1234", force=True)
    assert reader.auth_pin_tries_left() == 3
    response = visit(client, clinic_key, card, scenario)
    assert_eligibility(response.get_json()["eligibility"], scenario)


def test_the_locked_pin_is_refused_by_the_card_and_face_mode_still_works(
    client, clinic_key, cards, app, tmp_path
):
    scenario = SCENARIOS["pin-locked"]
    card = cards(scenario)
    with pytest.raises(PinLocked) as refused:
        JpkiClient(InProcessTransport(card)).verify_auth_pin("1234")
    assert refused.value.code == scenario.expected.refusal
    reader = FaceReader.load_or_create(tmp_path)  # the next step: face recognition
    with app.extensions["registry"].begin() as conn:
        add_reader_key(conn, CLINIC, "受付", reader.public_key_pem())
    response = verify_face(client, clinic_key, lambda c: face_answer(card, c, reader))
    assert (response.status_code, response.get_json()["eligibility"]["validity"]) == (201, "valid")


def test_a_wrong_pin_costs_a_try(cards):
    card = cards(SCENARIOS["valid-30"])
    with pytest.raises(WrongPin) as wrong:
        JpkiClient(InProcessTransport(card)).verify_auth_pin("9999")
    assert (wrong.value.code, wrong.value.tries_left) == ("WRONG_PIN", 2)


def test_the_renewed_scenario_s_old_card_is_revoked(client, clinic_key, cards):
    response = present_card(client, clinic_key, cards(SCENARIOS["card-renewed"], old=True))
    assert (response.status_code, response.get_json()["error"]["code"]) == (422, "CERT_REVOKED")


@pytest.mark.parametrize(
    ("slug", "validity", "insurer"),
    [
        ("job-change-new-exists", "valid", "06139992"),  # the card finds the new qualification
        ("job-change-not-registered", "invalid", "06139984"),  # only the lost one is registered
        ("qualification-lost", "invalid", "130013"),
    ],
)
def test_number_scenarios_by_card(client, clinic_key, cards, slug, validity, insurer):
    eligibility = present_card(client, clinic_key, cards(SCENARIOS[slug])).get_json()["eligibility"]
    assert (eligibility["validity"], eligibility["insurer_number"]) == (validity, insurer)


def test_the_twins_are_told_apart_by_their_branch(client, clinic_key):
    check = SCENARIOS["multiple-matches"].check
    body = {
        "insurer_number": check.insurer_number,
        "symbol": check.symbol,
        "number": check.number,
        "branch": "02",
        "birth_date": check.birth_date.isoformat(),
    }
    response = client.post("/api/v1/eligibility-checks", json=body, headers=bearer(clinic_key))
    eligibility = response.get_json()["eligibility"]
    assert (eligibility["validity"], eligibility["name"]) == ("valid", "西村　湊")


def test_checkups_show_hba1c_worsening_year_by_year(client, clinic_key, cards):
    scenario = SCENARIOS["worsening-hba1c"]
    visit_id = visit(client, clinic_key, cards(scenario), scenario).get_json()["visit_id"]
    page = client.get(f"/api/v1/visits/{visit_id}/checkups", headers=bearer(clinic_key))
    hba1c = [
        item["value"]
        for checkup in page.get_json()["items"]
        for item in checkup["items"]
        if item["code"] == "3D046000001920402"
    ]
    assert hba1c == [7.4, 6.8, 6.3, 5.9, 5.6]  # newest first


def test_records_need_the_consent(client, clinic_key, cards):
    scenario = SCENARIOS["clinical-surgery"]
    visit_id = present_card(client, clinic_key, cards(scenario)).get_json()["visit_id"]
    page = client.get(f"/api/v1/visits/{visit_id}/surgeries", headers=bearer(clinic_key))
    assert (page.status_code, page.get_json()["error"]["code"]) == (403, "CONSENT_REQUIRED")


@pytest.mark.parametrize("scenario", **_select(lambda s: s.expected.duplicate_check))
def test_the_duplicate_check_finds_the_other_clinics_drug(client, clinic_key, cards, scenario):
    visit_id = visit(client, clinic_key, cards(scenario), scenario).get_json()["visit_id"]
    drugs = [
        {"drug_code": code, "days": PLANNED_DAYS} for code in scenario.expected.duplicate_check
    ]
    response = client.post(
        "/api/v1/prescription-checks",
        json={"visit_id": visit_id, "drugs": drugs},
        headers=bearer(clinic_key),
    )
    body = response.get_json()
    found = {result["drug_code"]: result["finding"] for result in body["results"]}
    assert found == scenario.expected.duplicate_check
    assert body["details_shown"] == ("medication" in scenario.consents)
    if body["details_shown"]:
        prescribers = {c["institution_name"] for c in body["results"][0]["duplicates"]}
        assert prescribers == {"霞が関内科クリニック", "日比谷循環器クリニック"}
