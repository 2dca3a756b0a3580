"""The checkup as the checkup-report guide's document Bundle: R4-valid, the Composition first with
the guide's codes, every entry under a urn:uuid and every reference resolved inside the Bundle, read
under the checkup consent and audited as the JSON API's look at checkups."""

import re

import pytest

from app.fhir import document as doc
from app.fhir import resources as jp
from tests.api.conftest import CLINIC, bearer, present_card
from tests.api.test_portal import portal_token
from tests.fhir.conftest import valid_r4
from tests.fhir.test_refusals import refusal

CHECKUP = {"checkup": True}
# the guide's Bundle-ID: institution code ^ year ^ an id of up to 36 [A-Za-z0-9-]
BUNDLE_ID = re.compile(r"^([0-4][0-9][1-3][0-9]{7})\^([0-9]{4})\^([A-Za-z0-9-]{1,36})$")
# the sections the guide's Composition slices by code
GUIDE_SECTIONS = {
    "01011", "01012", "01990", "01021", "01022", "01031", "01032", "01041", "01042",
    "01071", "01072", "01081", "01082", "01910", "01920", "01995",
}  # fmt: skip


def visit_with(client, keys, card, consents=CHECKUP):
    response = present_card(client, keys["clinic"], card, consents)
    assert response.status_code == 201
    return response.get_json()["visit_id"]


def newest_checkup(client, key, visit_id):
    response = client.get(f"/api/v1/visits/{visit_id}/checkups", headers=bearer(key))
    return response.get_json()["items"][0]


def document_of(client, key, visit_id, examined_on):
    day = examined_on.replace("-", "")
    return client.get(f"/fhir/r4/Composition/{visit_id}-{day}/$document", headers=bearer(key))


def read_document(client, key, visit_id, examined_on):
    response = document_of(client, key, visit_id, examined_on)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/fhir+json"
    return valid_r4(response.get_json())


def references(value):
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str):
            yield value["reference"]
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def test_checkup_reads_as_a_document_bundle(client, keys, card):
    key = keys["clinic"]
    visit_id = visit_with(client, keys, card)
    checkup = newest_checkup(client, key, visit_id)
    bundle = read_document(client, key, visit_id, checkup["examined_on"])

    assert bundle["type"] == "document"
    assert bundle["meta"]["profile"] == [doc.BUNDLE_PROFILE]
    assert bundle["meta"]["lastUpdated"] == bundle["timestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+09:00", bundle["timestamp"])
    assert bundle["identifier"]["system"] == doc.BUNDLE_IDENTIFIER
    code, year, _ = BUNDLE_ID.fullmatch(bundle["identifier"]["value"]).groups()
    assert (code, year) == (CLINIC, checkup["examined_on"][:4])

    kinds = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    assert kinds[:6] == [
        "Composition",
        "Patient",
        "Organization",
        "Practitioner",
        "Encounter",
        "Coverage",
    ]
    assert kinds[6:] == ["Observation"] * len(checkup["items"])
    full_urls = [entry["fullUrl"] for entry in bundle["entry"]]
    assert all(re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", url) for url in full_urls)
    assert len(set(full_urls)) == len(full_urls)
    again = read_document(client, key, visit_id, checkup["examined_on"])
    assert again["identifier"] == bundle["identifier"]  # a fixed identifier, as the guide asks
    assert [entry["fullUrl"] for entry in again["entry"]] == full_urls


def test_every_reference_resolves_inside_the_bundle(client, keys, card):
    key = keys["clinic"]
    visit_id = visit_with(client, keys, card)
    bundle = read_document(
        client, key, visit_id, newest_checkup(client, key, visit_id)["examined_on"]
    )
    full_urls = {entry["fullUrl"]: entry["resource"] for entry in bundle["entry"]}
    for resource in full_urls.values():
        contained = {f"#{c['id']}" for c in resource.get("contained", [])}
        unresolved = set(references(resource)) - set(full_urls) - contained
        assert not unresolved, (resource["resourceType"], unresolved)
    composition = bundle["entry"][0]["resource"]
    patient = full_urls[composition["subject"]["reference"]]
    assert patient["resourceType"] == "Patient"
    authors = {full_urls[a["reference"]]["resourceType"] for a in composition["author"]}
    assert authors == {"Practitioner", "Organization"}
    assert full_urls[composition["encounter"]["reference"]]["resourceType"] == "Encounter"


def test_the_composition_carries_the_guides_codes(client, keys, card):
    key = keys["clinic"]
    visit_id = visit_with(client, keys, card)
    checkup = newest_checkup(client, key, visit_id)
    bundle = read_document(client, key, visit_id, checkup["examined_on"])
    composition = bundle["entry"][0]["resource"]
    full_urls = {entry["fullUrl"]: entry["resource"] for entry in bundle["entry"]}

    assert composition["meta"]["profile"] == [doc.COMPOSITION_PROFILE]
    assert composition["status"] == "final"
    assert composition["type"]["coding"][0] == {
        "system": doc.DOCUMENT_TYPE,
        "code": "53576-5",
        "display": "検診・健診報告書",
    }
    assert composition["category"][0]["coding"][0]["system"] == doc.REPORT_CATEGORY
    assert composition["category"][0]["coding"][0]["code"] == "10"
    event = composition["event"][0]
    assert (event["code"][0]["coding"][0]["system"], event["code"][0]["coding"][0]["code"]) == (
        doc.PROGRAM_SERVICE,
        "010",
    )
    assert composition["date"] == event["period"]["start"] == checkup["examined_on"]
    assert composition["extension"][0]["url"] == doc.VERSION_NUMBER
    (section,) = composition["section"]
    assert section["code"]["coding"][0]["system"] == doc.SECTION_CODE
    assert section["code"]["coding"][0]["code"] in GUIDE_SECTIONS
    listed = [full_urls[ref["reference"]] for ref in section["entry"]]
    others = [e["resource"] for e in bundle["entry"][5:]]
    assert listed == others  # the Coverage and every Observation, in order
    for observation in listed[1:]:
        codes = {c["system"]: c["code"] for c in observation["code"]["coding"]}
        assert len(codes[jp.CHECKUP_ITEM_CODE]) == 17
        assert observation["effectiveDateTime"] == checkup["examined_on"]


def test_doctor_and_institution_are_what_the_registry_knows(client, keys, card):
    key = keys["clinic"]
    visit_id = visit_with(client, keys, card)
    checkup = newest_checkup(client, key, visit_id)
    entries = read_document(client, key, visit_id, checkup["examined_on"])["entry"]
    organization, doctor, encounter, coverage = (e["resource"] for e in entries[2:6])
    assert organization["name"] == checkup["institution_name"]
    assert doctor["name"] == [{"extension": [{"url": doc.DATA_ABSENT, "valueCode": "unknown"}]}]
    assert encounter["period"] == {"start": checkup["examined_on"], "end": checkup["examined_on"]}
    assert "costToBeneficiary" not in coverage  # the guide's insurance Coverage has no co-pay
    assert coverage["contained"][0]["identifier"][0]["value"] == "06139992"


def test_the_document_is_read_under_the_checkup_consent(client, keys, card):
    key = keys["clinic"]
    visit_id = visit_with(client, keys, card, {"medication": True})
    refused = document_of(client, key, visit_id, "2024-01-01")
    assert refusal(refused) == (403, "CONSENT_REQUIRED")
    elsewhere = document_of(client, keys["pharmacy"], visit_id, "2024-01-01")
    assert refusal(elsewhere) == (404, "NOT_FOUND")


@pytest.mark.parametrize("composition", ["{}-19990101", "{}-2024", "{}-20241301", "nothing"])
def test_unknown_compositions_are_not_found(client, keys, card, composition):
    key = keys["clinic"]
    visit_id = visit_with(client, keys, card)
    path = f"/fhir/r4/Composition/{composition.format(visit_id)}/$document"
    assert refusal(client.get(path, headers=bearer(key))) == (404, "NOT_FOUND")


def test_reading_the_document_is_audited_as_a_look_at_checkups(client, keys, card):
    key = keys["clinic"]
    visit_id = visit_with(client, keys, card)
    examined_on = newest_checkup(client, key, visit_id)["examined_on"]
    token = portal_token(client, card)
    log = client.get("/api/v1/portal/me/access-log", headers=bearer(token)).get_json()["entries"]
    read_document(client, key, visit_id, examined_on)
    after = client.get("/api/v1/portal/me/access-log", headers=bearer(token)).get_json()["entries"]
    new = [(e["action"], e["category"], e["outcome"]) for e in after[: len(after) - len(log)]]
    assert ("view", "checkup", "shown") in new
