"""The patient portal's access log as AuditEvents, read with the patient's portal token."""

from app.fhir import resources as jp
from tests.api.conftest import CLINIC, bearer, present_card
from tests.api.test_portal import portal_token
from tests.fhir.conftest import valid_r4
from tests.fhir.test_refusals import refusal


def test_access_log_reads_as_audit_events(client, keys, card):
    visit_id = present_card(client, keys["clinic"], card, {"medication": True}).get_json()[
        "visit_id"
    ]
    client.get(f"/fhir/r4/MedicationDispense?patient={visit_id}", headers=bearer(keys["clinic"]))
    client.get(f"/fhir/r4/Observation?patient={visit_id}", headers=bearer(keys["clinic"]))
    token = portal_token(client, card)
    log = client.get("/api/v1/portal/me/access-log", headers=bearer(token)).get_json()["entries"]

    response = client.get("/fhir/r4/AuditEvent", headers=bearer(token))
    assert response.status_code == 200 and response.mimetype == "application/fhir+json"
    bundle = valid_r4(response.get_json())
    assert bundle["type"] == "searchset" and bundle["total"] == len(log)
    events = [valid_r4(entry["resource"]) for entry in bundle["entry"]]
    for entry, event in zip(log, events, strict=True):
        assert event["type"] == {"system": jp.AUDIT_ACTION, "code": entry["action"]}
        subtype = [s["code"] for s in event.get("subtype", [])]
        assert subtype == ([entry["category"]] if entry["category"] else [])
        assert event["agent"][0]["who"]["identifier"] == {
            "system": jp.INSTITUTION_NUMBER,
            "value": CLINIC,
        }
        assert event["outcomeDesc"] == entry["outcome"]
        assert event["recorded"][:19] == entry["at"][:19]
    outcomes = {(e["subtype"][0]["code"], e["outcome"]) for e in events if e["action"] == "R"}
    assert outcomes == {("medication", "0"), ("checkup", "4")}  # shown, refused without consent


def test_audit_events_page_with_count(client, keys, card):
    present_card(client, keys["clinic"], card, {"medication": True})
    token = portal_token(client, card)
    first = valid_r4(client.get("/fhir/r4/AuditEvent?_count=2", headers=bearer(token)).get_json())
    assert len(first["entry"]) == 2 and first["total"] > 2
    assert any(link["relation"] == "next" for link in first["link"])


def test_audit_events_need_a_portal_token(client, keys):
    assert refusal(client.get("/fhir/r4/AuditEvent")) == (401, "AUTH_INVALID")
    institution = client.get("/fhir/r4/AuditEvent", headers=bearer(keys["clinic"]))
    assert refusal(institution) == (401, "AUTH_INVALID")
