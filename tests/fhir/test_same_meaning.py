"""One training-like person through the JSON API and through FHIR: the same meaning, field by field
(validity, co-pay, insured number, limit bracket, each medication, each checkup value, in the
Observation search and in each checkup's document)."""

from app.fhir import resources as jp
from tests.api.conftest import bearer, present_card
from tests.fhir.conftest import valid_r4

CONSENTS = {"medication": True, "checkup": True, "limit_certificate": True}


def get(client, key, path):
    response = client.get(path, headers=bearer(key))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def search(client, key, path):
    bundle = valid_r4(get(client, key, f"/fhir/r4/{path}"))
    return bundle["total"], [entry["resource"] for entry in bundle["entry"]]


def test_eligibility_reads_the_same(client, keys, card):
    key = keys["clinic"]
    visit_id = present_card(client, key, card, CONSENTS).get_json()["visit_id"]
    eligibility = get(client, key, f"/api/v1/visits/{visit_id}")["eligibility"]
    coverage = valid_r4(get(client, key, f"/fhir/r4/Coverage/{visit_id}"))
    patient = valid_r4(get(client, key, f"/fhir/r4/Patient/{visit_id}"))
    extension = {
        e["url"].rpartition("Person")[2]: e["valueString"]
        for e in coverage["extension"]
        if e["url"].startswith(jp.EXTENSION)
    }
    assert coverage["status"] == {"valid": "active"}[eligibility["validity"]]
    assert coverage["costToBeneficiary"][0]["valueQuantity"]["value"] == eligibility["copay_ratio"]
    assert coverage["contained"][0]["identifier"][0]["value"] == eligibility["insurer_number"]
    assert coverage["payor"][0]["display"] == eligibility["insurer_name"]
    assert extension == {
        "Symbol": eligibility["symbol"],
        "Number": eligibility["number"],
        "SubNumber": eligibility["branch"],
    }
    assert coverage["relationship"]["coding"][0]["code"] == eligibility["relationship_code"]
    assert coverage["period"]["start"] == eligibility["acquired_on"]
    limit = next(e for e in coverage["extension"] if e["url"] == jp.LIMIT_CERTIFICATE)
    parts = {part["url"]: part for part in limit["extension"]}
    expected = eligibility["limit_certificate"]
    assert parts["bracket"]["valueCoding"]["code"] == expected["bracket_code"]
    assert parts["bracket"]["valueCoding"]["display"] == expected["bracket_label"]
    assert parts["classification"]["valueCoding"]["code"] == expected["classification"]
    assert parts["period"]["valuePeriod"] == {
        "start": expected["valid_from"],
        "end": expected["valid_until"],
    }
    names = {n["extension"][0]["valueCode"]: n["text"] for n in patient["name"]}
    assert names == {"IDE": eligibility["name"], "SYL": eligibility["name_kana"]}
    assert patient["birthDate"] == eligibility["birth_date"]
    assert patient["address"][0]["postalCode"] == eligibility["post_code"]


def test_each_medication_reads_the_same(client, keys, card):
    key = keys["clinic"]
    visit_id = present_card(client, key, card, CONSENTS).get_json()["visit_id"]
    page = get(client, key, f"/api/v1/visits/{visit_id}/medications?page_size=50")
    total, dispenses = search(client, key, f"MedicationDispense?patient={visit_id}&_count=50")
    assert total == page["total"] and len(dispenses) == len(page["items"]) == 50
    for record, dispense in zip(page["items"], dispenses, strict=True):
        drug = dispense["medicationCodeableConcept"]
        assert (drug["coding"][0]["code"], drug["text"]) == (
            record["drug_code"],
            record["drug_name"],
        )
        assert dispense["note"][0]["text"] == f"成分: {record['ingredient']}"
        whole = round(record["quantity"] * record["days"], 3)  # the records hold a day's quantity
        assert dispense["quantity"] == {"value": whole, "unit": record["unit"]}
        [rate] = dispense["dosageInstruction"][0]["doseAndRate"]
        assert rate["rateRatio"]["numerator"] == {
            "value": record["quantity"],
            "unit": record["unit"],
        }
        assert dispense["daysSupply"]["value"] == record["days"]
        assert dispense["dosageInstruction"][0]["text"] == record["usage"]
        assert dispense["whenHandedOver"] == record["dispensed_on"]
        dispenser, prescriber, prescription = dispense["contained"]
        assert dispenser["identifier"][0]["value"] == record["dispenser_code"]
        assert prescriber["identifier"][0]["value"] == record["prescriber_code"]
        assert prescription["authoredOn"] == record["prescribed_on"]


def test_each_checkup_value_reads_the_same(client, keys, card):
    key = keys["clinic"]
    visit_id = present_card(client, key, card, CONSENTS).get_json()["visit_id"]
    checkups = get(client, key, f"/api/v1/visits/{visit_id}/checkups")["items"]
    expected = {
        (checkup["examined_on"], item["code"]): item
        for checkup in checkups
        for item in checkup["items"]
    }
    total, observations = search(client, key, f"Observation?patient={visit_id}&_count=200")
    assert total == len(observations) == len(expected)
    assert_same_values(observations, expected)


def test_each_checkup_document_reads_the_same(client, keys, card):
    key = keys["clinic"]
    visit_id = present_card(client, key, card, CONSENTS).get_json()["visit_id"]
    checkups = get(client, key, f"/api/v1/visits/{visit_id}/checkups")["items"]
    assert len(checkups) == 5
    for checkup in checkups:
        day = checkup["examined_on"].replace("-", "")
        bundle = valid_r4(get(client, key, f"/fhir/r4/Composition/{visit_id}-{day}/$document"))
        resources = [entry["resource"] for entry in bundle["entry"]]
        observations = [r for r in resources if r["resourceType"] == "Observation"]
        expected = {(checkup["examined_on"], item["code"]): item for item in checkup["items"]}
        assert len(observations) == len(expected)
        assert_same_values(observations, expected)
        organization = next(r for r in resources if r["resourceType"] == "Organization")
        assert organization["name"] == checkup["institution_name"]


def assert_same_values(observations, expected):
    """Each observation holds the value and unit (or the qualitative text) of its JSON item."""
    for observation in observations:
        codes = {c["system"]: c["code"] for c in observation["code"]["coding"]}
        item = expected[observation["effectiveDateTime"], codes[jp.CHECKUP_ITEM_CODE]]
        if "valueQuantity" in observation:
            quantity = observation["valueQuantity"]
            assert (quantity["value"], quantity["unit"]) == (item["value"], item["unit"])
        else:
            assert observation["valueCodeableConcept"]["text"] == item["text"]
