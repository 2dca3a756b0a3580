"""The newest choice stands (docs/rules.md §4): a patient who declines at a later visit withdraws the
consent given earlier at that institution, and every visit shows what is consented there now."""

import datetime as dt

from tests.api.conftest import bearer, present_card
from tests.api.test_portal import portal_token


def error_of(response) -> tuple[int, str]:
    return response.status_code, response.get_json()["error"]["code"]


def test_a_later_decline_withdraws_the_earlier_consent(client, keys, card):
    first = present_card(client, keys["clinic"], card, {"medication": True}).get_json()
    medications = f"/api/v1/visits/{first['visit_id']}/medications"
    assert client.get(medications, headers=bearer(keys["clinic"])).status_code == 200

    later = present_card(client, keys["clinic"], card, {}).get_json()

    assert later["consents"] == []
    refused = client.get(medications, headers=bearer(keys["clinic"]))
    assert error_of(refused) == (403, "CONSENT_REQUIRED")
    again = client.get(
        f"/api/v1/visits/{later['visit_id']}/medications", headers=bearer(keys["clinic"])
    )
    assert error_of(again) == (403, "CONSENT_REQUIRED")


def test_a_visit_shows_what_is_consented_now(client, keys, card):
    first = present_card(
        client, keys["clinic"], card, {"medication": True, "limit_certificate": True}
    ).get_json()
    visit = f"/api/v1/visits/{first['visit_id']}"
    before = client.get(visit, headers=bearer(keys["clinic"])).get_json()
    assert [c["category"] for c in before["consents"]] == ["medication", "limit_certificate"]
    assert "limit_certificate" in before["eligibility"]

    present_card(client, keys["clinic"], card, {"medication": True})

    now = client.get(visit, headers=bearer(keys["clinic"])).get_json()
    assert [c["category"] for c in now["consents"]] == ["medication"]
    assert "limit_certificate" not in now["eligibility"]


def test_consenting_again_after_a_decline_restores_access(client, keys, card):
    present_card(client, keys["clinic"], card, {"medication": True})
    present_card(client, keys["clinic"], card, {})
    latest = present_card(client, keys["clinic"], card, {"medication": True}).get_json()
    response = client.get(
        f"/api/v1/visits/{latest['visit_id']}/medications", headers=bearer(keys["clinic"])
    )
    assert response.status_code == 200


def test_a_decline_at_one_institution_leaves_another_alone(client, keys, card):
    at_clinic = present_card(client, keys["clinic"], card, {"medication": True}).get_json()
    present_card(client, keys["pharmacy"], card, {"medication": True})
    present_card(client, keys["pharmacy"], card, {})
    response = client.get(
        f"/api/v1/visits/{at_clinic['visit_id']}/medications", headers=bearer(keys["clinic"])
    )
    assert response.status_code == 200


def test_the_patient_sees_the_decline_and_when_the_consent_ended(client, keys, card):
    present_card(client, keys["clinic"], card, {"medication": True})
    present_card(client, keys["clinic"], card, {})
    token = portal_token(client, card)

    log = client.get("/api/v1/portal/me/access-log", headers=bearer(token)).get_json()["entries"]
    medication_choices = [
        e["outcome"] for e in log if e["action"] == "consent" and e["category"] == "medication"
    ]
    assert medication_choices == ["declined", "given"]
    (consent,) = client.get("/api/v1/portal/me", headers=bearer(token)).get_json()["consents"]
    ended = dt.datetime.fromisoformat(consent["available_until"])
    assert consent["category"] == "medication" and ended <= dt.datetime.now(dt.UTC)
