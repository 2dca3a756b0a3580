"""Recorded prescriptions as JP_MedicationRequest: an institution always reads back its own; other
institutions' are medication information, listed only under a live medication consent here (the
search still answers, saying in an outcome entry what it left out); each look is audited."""

from app.fhir import resources as jp
from tests.api.conftest import CLINIC, OTHER_CLINIC, bearer, visit_of
from tests.api.test_portal import portal_token
from tests.api.test_prescriptions import prescription
from tests.fhir.conftest import valid_r4
from tests.fhir.test_refusals import refusal


def prescribe(client, key, visit_id, **changes) -> dict:
    body = prescription(visit_id, **changes)
    response = client.post("/api/v1/prescriptions", json=body, headers=bearer(key))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def search(client, key, visit_id, extra=""):
    response = client.get(
        f"/fhir/r4/MedicationRequest?patient={visit_id}{extra}", headers=bearer(key)
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/fhir+json"
    return valid_r4(response.get_json())


def matches(bundle) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "match"]


def withheld(bundle) -> list[str]:
    """The stable codes of the outcome entries: why other institutions' prescriptions are left out."""
    outcomes = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    issues = [issue for outcome in outcomes for issue in outcome["issue"]]
    assert all(issue["code"] == "suppressed" for issue in issues)
    return [issue["details"]["coding"][0]["code"] for issue in issues]


def test_a_recorded_prescription_reads_the_same_as_the_json_api(client, keys, card):
    visit_id = visit_of(client, keys["clinic"], card)
    stored = prescribe(
        client, keys["clinic"], visit_id, quantity=1.5, days=14, issued_on="2024-06-01"
    )
    bundle = search(client, keys["clinic"], visit_id)
    [request] = matches(bundle)
    assert bundle["total"] == 1
    assert request["id"] == stored["id"]
    assert request["meta"]["profile"] == [f"{jp.PROFILE}/JP_MedicationRequest"]
    assert request["meta"]["lastUpdated"][:19] == stored["recorded_at"][:19]
    assert (request["status"], request["intent"]) == ("completed", "order")  # its days are over
    drug = request["medicationCodeableConcept"]
    assert drug["text"] == stored["drug_name"]
    assert drug["coding"] == [
        {"system": jp.YJ_CODE, "code": stored["drug_code"], "display": stored["drug_name"]}
    ]
    assert request["note"] == [{"text": f"成分: {stored['ingredient']}"}]
    assert request["subject"] == {"reference": f"Patient/{visit_id}"}
    assert request["authoredOn"] == stored["issued_on"]
    [requester] = request["contained"]
    assert requester["identifier"] == [{"system": jp.INSTITUTION_NUMBER, "value": CLINIC}]
    assert request["requester"] == {"reference": "#requester", "display": "霞が関内科クリニック"}
    identifiers = {i["system"]: i["value"] for i in request["identifier"]}
    assert identifiers == {
        jp.RP_NUMBER: "1",
        jp.ORDER_IN_RP: "1",
        jp.RESOURCE_INSTANCE: stored["id"],
    }
    [dosage] = request["dosageInstruction"]
    assert dosage["text"] == stored["usage"]
    days = {"unit": "日", "system": jp.UCUM, "code": "d"}
    extensions = {e["url"]: e for e in dosage["extension"]}
    assert extensions[jp.PERIOD_OF_USE]["valuePeriod"] == {
        "start": "2024-06-01",
        "end": "2024-06-14",
    }
    assert extensions[jp.USAGE_DURATION]["valueDuration"] == {"value": 14, **days}
    assert dosage["doseAndRate"][0]["rateRatio"] == {
        "numerator": {"value": 1.5, "unit": stored["unit"]},  # a day's quantity
        "denominator": {"value": 1, **days},
    }
    assert request["dispenseRequest"] == {
        "quantity": {"value": 21, "unit": stored["unit"]},  # 1.5 a day for 14 days
        "expectedSupplyDuration": {"value": 14, **days},
    }


def test_a_prescription_in_its_days_of_use_is_active(client, keys, card):
    visit_id = visit_of(client, keys["clinic"], card)
    prescribe(client, keys["clinic"], visit_id)  # issued today, by default
    [request] = matches(search(client, keys["clinic"], visit_id))
    assert request["status"] == "active"


def test_own_prescriptions_need_no_consent_and_others_are_withheld(
    client, keys, card, other_clinic
):
    there = visit_of(client, other_clinic, card)
    prescribe(client, other_clinic, there, issued_on="2024-06-01")
    here = visit_of(client, keys["clinic"], card, checkup=True)
    mine = prescribe(client, keys["clinic"], here)
    bundle = search(client, keys["clinic"], here)
    assert [r["id"] for r in matches(bundle)] == [mine["id"]]
    assert bundle["total"] == 1
    assert withheld(bundle) == ["CONSENT_REQUIRED"]
    assert there not in str(bundle)  # nothing of the other institution's visit


def test_other_institutions_prescriptions_show_under_the_medication_consent(
    client, keys, card, other_clinic
):
    there = visit_of(client, other_clinic, card)
    theirs = prescribe(client, other_clinic, there, issued_on="2024-06-01")
    here = visit_of(client, keys["clinic"], card, medication=True)
    mine = prescribe(client, keys["clinic"], here)
    bundle = search(client, keys["clinic"], here)
    requests = matches(bundle)
    assert [r["id"] for r in requests] == [mine["id"], theirs["id"]]  # newest first
    assert withheld(bundle) == []
    other = requests[1]
    assert other["subject"] == {"reference": f"Patient/{here}"}  # the patient as known here
    assert other["contained"][0]["identifier"][0]["value"] == OTHER_CLINIC
    assert other["requester"]["display"] == "日比谷クリニック"
    assert there not in str(bundle)
    # the other institution, without a consent of its own, sees only its own
    at_other = search(client, other_clinic, there)
    assert [r["id"] for r in matches(at_other)] == [theirs["id"]]
    assert withheld(at_other) == ["CONSENT_REQUIRED"]


def test_an_expired_consent_withholds_others_and_says_so(environment, keys, card, other_clinic):
    from app import create_app
    from app.settings import load_settings

    short = create_app(load_settings({**environment, "ELIGSIM_CONSENT_TTL_HOURS": "0.0000001"}))
    client = short.test_client()
    prescribe(client, other_clinic, visit_of(client, other_clinic, card))
    here = visit_of(client, keys["clinic"], card, medication=True)
    bundle = search(client, keys["clinic"], here)
    assert (matches(bundle), withheld(bundle)) == ([], ["CONSENT_EXPIRED"])
    short.extensions["registry"].dispose()


def test_each_search_is_audited_as_a_medication_view(client, keys, card):
    without = visit_of(client, keys["clinic"], card)
    search(client, keys["clinic"], without)
    with_consent = visit_of(client, keys["clinic"], card, medication=True)
    search(client, keys["clinic"], with_consent)
    token = portal_token(client, card)
    log = client.get("/api/v1/portal/me/access-log", headers=bearer(token)).get_json()["entries"]
    views = [(e["category"], e["outcome"]) for e in log if e["action"] == "view"]
    assert views == [("medication", "shown"), ("medication", "refused_none")]  # newest first


def test_the_search_pages_and_every_page_says_what_was_withheld(client, keys, card):
    visit_id = visit_of(client, keys["clinic"], card)
    recorded = [
        prescribe(client, keys["clinic"], visit_id, issued_on=f"2024-06-0{day}")["id"]
        for day in (1, 2, 3)
    ]
    first = search(client, keys["clinic"], visit_id, "&_count=2")
    links = {link["relation"]: link["url"] for link in first["link"]}
    assert first["total"] == 3 and "_page=2" in links["next"]
    second = search(client, keys["clinic"], visit_id, "&_count=2&_page=2")
    assert "next" not in {link["relation"] for link in second["link"]}
    found = [r["id"] for r in matches(first) + matches(second)]
    assert found == recorded[::-1]
    assert withheld(first) == withheld(second) == ["CONSENT_REQUIRED"]


def test_an_own_prescription_reads_by_id_and_no_other(client, keys, card, other_clinic):
    here = visit_of(client, keys["clinic"], card)
    mine = prescribe(client, keys["clinic"], here)
    theirs = prescribe(client, other_clinic, visit_of(client, other_clinic, card, medication=True))
    response = client.get(
        f"/fhir/r4/MedicationRequest/{mine['id']}", headers=bearer(keys["clinic"])
    )
    assert response.status_code == 200
    request = valid_r4(response.get_json())
    assert (request["id"], request["subject"]) == (mine["id"], {"reference": f"Patient/{here}"})
    for unknown in (theirs["id"], "no-such-id"):
        response = client.get(
            f"/fhir/r4/MedicationRequest/{unknown}", headers=bearer(keys["clinic"])
        )
        assert refusal(response) == (404, "NOT_FOUND")


def test_another_institutions_visit_is_not_found(client, keys, card, other_clinic):
    there = visit_of(client, other_clinic, card, medication=True)
    response = client.get(
        f"/fhir/r4/MedicationRequest?patient={there}", headers=bearer(keys["clinic"])
    )
    assert refusal(response) == (404, "NOT_FOUND")


def test_metadata_serves_medication_request(client):
    statement = client.get("/fhir/r4/metadata").get_json()
    served = {r["type"]: r for r in statement["rest"][0]["resource"]}["MedicationRequest"]
    assert served["profile"] == f"{jp.PROFILE}/JP_MedicationRequest"
    assert [i["code"] for i in served["interaction"]] == ["read", "search-type"]
    assert {p["name"] for p in served["searchParam"]} == {"patient", "_count", "_page"}
