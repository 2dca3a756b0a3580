"""Every FHIR view answers resources that R4 accepts and that keep JP Core's identifier systems,
name representations and code systems; searchsets page with ``_count`` and ``Bundle.link``."""

import re

import pytest

from app.fhir import resources as jp
from tests.api.conftest import CLINIC, bearer, present_card
from tests.fhir.conftest import valid_r4

ALL_CONSENTS = {"medication": True, "checkup": True, "limit_certificate": True}


@pytest.fixture
def visit(client, keys, card):
    response = present_card(client, keys["clinic"], card, ALL_CONSENTS)
    assert response.status_code == 201
    return response.get_json()["visit_id"]


def fhir(client, key, path):
    response = client.get(f"/fhir/r4/{path}", headers=bearer(key))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/fhir+json"
    return valid_r4(response.get_json())


def entries(bundle):
    assert bundle["type"] == "searchset"
    return [valid_r4(entry["resource"]) for entry in bundle["entry"]]


def test_metadata_lists_exactly_what_is_served(client):
    statement = valid_r4(client.get("/fhir/r4/metadata").get_json())
    served = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert statement["fhirVersion"] == "4.0.1"
    assert set(served) == {
        "Patient",
        "Coverage",
        "MedicationDispense",
        "MedicationRequest",
        "Observation",
        "Consent",
        "AuditEvent",
        "CoverageEligibilityRequest",
        "Composition",
    }
    assert served["CoverageEligibilityRequest"]["operation"][0]["name"] == "submit"
    assert served["Composition"]["operation"][0] == {
        "name": "document",
        "definition": "http://hl7.org/fhir/OperationDefinition/Composition-document",
    }
    assert [i["code"] for i in served["Patient"]["interaction"]] == ["read"]
    assert {p["name"] for p in served["Observation"]["searchParam"]} >= {"patient", "category"}


def test_patient_is_a_jp_core_patient(client, keys, visit):
    patient = fhir(client, keys["clinic"], f"Patient/{visit}")
    systems = {i["system"]: i["value"] for i in patient["identifier"]}
    local = f"urn:oid:1.2.392.100495.20.3.51.1{CLINIC}"
    assert systems[local] == visit
    assert re.fullmatch(r"^[0-4][0-9][1-3][0-9]{7}$", local.rpartition(".1")[2][-10:])  # R1010
    member = systems[jp.MEMBER_ID]
    assert member == "06139992:12-34:5678:01"
    assert re.fullmatch(r"^[0-9]{8}:[^:\s　]*:[^:\s　]*:(|[0-9]{2})$", member)  # R1013
    names = {n["extension"][0]["valueCode"]: n for n in patient["name"]}
    assert all(n["extension"][0]["url"] == jp.NAME_REPRESENTATION for n in names.values())
    assert (names["IDE"]["family"], names["IDE"]["given"], names["IDE"]["text"]) == (
        "山田",
        ["太郎"],
        "山田 太郎",
    )
    assert re.fullmatch(r"[ァ-ヶー ]+", names["SYL"]["text"])  # kana, half-width space (R1113)
    assert (patient["gender"], patient["birthDate"]) == ("male", "1980-05-01")
    assert patient["address"][0] == {
        "text": "東京都千代田区霞が関1-2-2",
        "postalCode": "100-8916",
        "country": "JP",
    }


def test_coverage_carries_the_insured_number_and_copay(client, keys, visit):
    (coverage,) = entries(fhir(client, keys["clinic"], f"Coverage?patient={visit}"))
    assert coverage == fhir(client, keys["clinic"], f"Coverage/{visit}")
    extensions = {e["url"].rpartition("/")[2]: e.get("valueString") for e in coverage["extension"]}
    assert extensions == {
        "limit-certificate": None,  # a complex extension (test below)
        "JP_Coverage_InsuredPersonSymbol": "12-34",
        "JP_Coverage_InsuredPersonNumber": "5678",
        "JP_Coverage_InsuredPersonSubNumber": "01",
    }
    insurer = coverage["contained"][0]
    assert insurer["identifier"] == [{"system": jp.INSURER_NUMBER, "value": "06139992"}]
    assert coverage["payor"] == [{"reference": "#insurer", "display": "霞が関健康保険組合"}]
    assert coverage["relationship"]["coding"][0] == {
        "system": jp.INSURED_PERSON_CATEGORY,
        "code": "1",
    }
    assert coverage["costToBeneficiary"][0]["valueQuantity"]["value"] == 30
    assert (coverage["status"], coverage["period"]) == ("active", {"start": "2015-04-01"})


def certificates(coverage):
    """The eligsim certificate extensions on a Coverage, by URL, each as its parts by name."""
    return {
        e["url"]: {part["url"]: part for part in e["extension"]}
        for e in coverage["extension"]
        if e["url"].startswith(jp.PROJECT)
    }


def test_coverage_shows_the_limit_certificate_only_with_its_consent(client, keys, card):
    consented = present_card(client, keys["clinic"], card, ALL_CONSENTS).get_json()["visit_id"]
    limit = certificates(fhir(client, keys["clinic"], f"Coverage/{consented}"))[
        jp.LIMIT_CERTIFICATE
    ]
    assert limit["bracket"]["valueCoding"] == {
        "system": jp.LIMIT_BRACKET,
        "code": "A03",
        "display": "ウ",
    }
    assert limit["classification"]["valueCoding"]["code"] == "01"
    assert limit["period"]["valuePeriod"] == {"start": "2024-08-01", "end": "2030-07-31"}

    declined = present_card(client, keys["clinic"], card, {"checkup": True}).get_json()["visit_id"]
    assert certificates(fhir(client, keys["clinic"], f"Coverage/{declined}")) == {}
    # the patient's newest choice stands for the earlier visit too, as in the JSON API
    assert certificates(fhir(client, keys["clinic"], f"Coverage/{consented}")) == {}


def test_medication_dispenses_page_with_next_links(client, keys, visit):
    first = fhir(client, keys["clinic"], f"MedicationDispense?patient={visit}&_count=2")
    dispenses = entries(first)
    assert len(dispenses) == 2 and first["total"] > 2
    following = next(link["url"] for link in first["link"] if link["relation"] == "next")
    second = fhir(client, keys["clinic"], following.partition("/fhir/r4/")[2])
    assert {d["id"] for d in entries(second)}.isdisjoint({d["id"] for d in dispenses})
    dispense = dispenses[0]
    assert dispense["medicationCodeableConcept"]["coding"][0]["system"] == jp.YJ_CODE
    assert len(dispense["medicationCodeableConcept"]["coding"][0]["code"]) == 12
    assert dispense["daysSupply"] == {"value": 28, "unit": "日", "system": jp.UCUM, "code": "d"}
    performer = dispense["contained"][0]
    assert performer["identifier"][0]["system"] == jp.INSTITUTION_NUMBER


def test_checkup_observations_carry_item_codes_and_ucum(client, keys, visit):
    bundle = fhir(client, keys["clinic"], f"Observation?patient={visit}&category=laboratory")
    observations = entries(bundle)
    assert bundle["total"] == 5 * 12  # five checkups, twelve laboratory items each
    for observation in observations:
        coding = {c["system"]: c["code"] for c in observation["code"]["coding"]}
        assert len(coding[jp.CHECKUP_ITEM_CODE]) == 17
        assert coding[jp.JLAC10] == coding[jp.CHECKUP_ITEM_CODE]
        assert observation["category"][0]["coding"][0]["code"] == "laboratory"
        if "valueQuantity" in observation:
            assert observation["valueQuantity"]["system"] == jp.UCUM
    vitals = fhir(client, keys["clinic"], f"Observation?patient={visit}&category=vital-signs")
    pressures = {o["valueQuantity"]["code"] for o in entries(vitals)}
    assert pressures == {"mm[Hg]"}


def test_consents_say_until_when(client, keys, visit):
    consents = entries(fhir(client, keys["clinic"], f"Consent?patient=Patient/{visit}"))
    categories = {c["category"][0]["coding"][0]["code"]: c for c in consents}
    assert set(categories) == {"medication", "checkup", "limit_certificate"}
    medication = categories["medication"]
    assert medication["status"] == "active"
    assert medication["provision"]["period"]["end"] > medication["provision"]["period"]["start"]
