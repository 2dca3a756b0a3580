"""The JSON API's answers rewritten as FHIR R4 resources under JP Core (docs/fhir.md).

Pure functions from the use cases' plain data to FHIR JSON: no rule is decided here, only how a
value the use cases already chose to show is written."""

from __future__ import annotations

import datetime as dt
from typing import Any

from payer_registry.checkup_items import ITEMS
from payer_registry.identifiers import (
    NATIONAL_HEALTH_INSURANCE,
    insurer_kind,
    is_late_stage_elderly,
)

JP_CORE = "http://jpfhir.jp/fhir/core"
PROFILE = f"{JP_CORE}/StructureDefinition"
EXTENSION = f"{JP_CORE}/Extension/StructureDefinition"
PATIENT_ID_ROOT = "urn:oid:1.2.392.100495.20.3.51.1"  # + the 10-digit institution code
MEMBER_ID = "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID"
INSURER_NUMBER = f"{JP_CORE}/mhlw/IdSystem/InsurerNumber"
INSTITUTION_NUMBER = f"{JP_CORE}/IdSystem/insurance-medical-institution-no"
NAME_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
INSURED_PERSON_CATEGORY = f"{JP_CORE}/mhlw/CodeSystem/InsuredPersonCategory"
INSURANCE_CATEGORY = f"{JP_CORE}/mhlw/CodeSystem/InsuranceMajorCategory"
YJ_CODE = "http://capstandard.jp/iyaku.info/CodeSystem/YJ-code"
RP_NUMBER = f"{JP_CORE}/mhlw/IdSystem/Medication-RPGroupNumber"
ORDER_IN_RP = f"{JP_CORE}/mhlw/IdSystem/MedicationAdministrationIndex"
RESOURCE_INSTANCE = f"{JP_CORE}/IdSystem/resourceInstance-identifier"
PERIOD_OF_USE = f"{EXTENSION}/JP_MedicationDosage_PeriodOfUse"
USAGE_DURATION = f"{EXTENSION}/JP_MedicationDosage_UsageDuration"
CHECKUP_ITEM_CODE = "urn:oid:1.2.392.200119.6.1005"
JLAC10 = "http://medis.or.jp/CodeSystem/master-JLAC10-17digits"
OBSERVATION_CATEGORY = f"{JP_CORE}/CodeSystem/JP_SimpleObservationCategory_CS"
UCUM = "http://unitsofmeasure.org"
PROJECT = "http://eligsim.example/fhir"
CONSENT_CATEGORY = f"{PROJECT}/CodeSystem/consent-category"
AUDIT_ACTION = f"{PROJECT}/CodeSystem/audit-action"
AUDIT_OUTCOME = f"{PROJECT}/CodeSystem/audit-outcome"
ELDERLY_CERTIFICATE = f"{PROJECT}/StructureDefinition/elderly-certificate"
LIMIT_CERTIFICATE = f"{PROJECT}/StructureDefinition/limit-certificate"
LIMIT_BRACKET = f"{PROJECT}/CodeSystem/limit-bracket"
LIMIT_CLASSIFICATION = f"{PROJECT}/CodeSystem/limit-certificate-classification"

# the audited action -> AuditEvent.action (C create, R read, E execute)
AUDIT_ACTION_KIND = {"consent": "C", "view": "R", "visit_view": "R"}
# outcomes that record a refusal: AuditEvent.outcome 4 (minor failure); the others 0 (success)
REFUSALS = {
    "refused_expired",
    "refused_none",
    "CARD_NOT_LINKED",
    "CHALLENGE_INVALID",
    "CONSENT_NOT_OFFERED",
    "NOT_FOUND",
    "failed",
}
SEX = {"1": "male", "2": "female", "3": "other"}
# the checkup units as UCUM writes them (the others are already UCUM)
UCUM_UNITS = {"mmHg": "mm[Hg]", "mL/min/1.73m2": "mL/min/{1.73_m2}"}
# item code prefix -> JP Core's simple observation category (9N body, 9A blood pressure)
CATEGORY_BY_PREFIX = {"9N": "body-measurement", "9A": "vital-signs"}
ITEM_LABELS = {item.code: item.label for item in ITEMS}


def patient(visit_id: str, institution_code: str, eligibility: dict[str, Any]) -> dict[str, Any]:
    """JP_Patient: the visit's person, identified at the institution by the visit."""
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": visit_id,
        "meta": {"profile": [f"{PROFILE}/JP_Patient"]},
        "identifier": [
            {"system": f"{PATIENT_ID_ROOT}{institution_code}", "value": visit_id},
            *_member_identifier(eligibility),
        ],
    }
    if "name" in eligibility:
        resource |= {
            "name": [
                _name(eligibility["name"], "IDE"),
                _name(eligibility["name_kana"], "SYL"),
            ],
            "gender": SEX.get(eligibility["sex"], "unknown"),
            "birthDate": _date(eligibility["birth_date"]),
            "address": [_address(eligibility)],
        }
    return resource


def coverage(visit_id: str, eligibility: dict[str, Any]) -> dict[str, Any]:
    """JP_Coverage: the qualification the visit confirmed, its insurer as a contained payor."""
    if "insurer_number" not in eligibility:
        return _no_coverage(visit_id)
    symbol, number, branch = (eligibility[k] for k in ("symbol", "number", "branch"))
    resource: dict[str, Any] = {
        "resourceType": "Coverage",
        "id": visit_id,
        "meta": {"profile": [f"{PROFILE}/JP_Coverage"]},
        "contained": [_insurer(eligibility)],
        "extension": _number_extensions(symbol, number, branch),
        "identifier": _member_identifier(eligibility),
        "status": "active" if eligibility["validity"] == "valid" else "cancelled",
        "type": _coding(INSURANCE_CATEGORY, _insurance_category(eligibility["insurer_number"])),
        "subscriberId": f"{symbol or ''}:{number}",
        "beneficiary": {"reference": f"Patient/{visit_id}"},
        "relationship": _coding(INSURED_PERSON_CATEGORY, eligibility["relationship_code"]),
        "period": _period(eligibility["acquired_on"], eligibility["lost_on"]),
        "payor": [{"reference": "#insurer", "display": eligibility["insurer_name"]}],
    }
    if branch:
        resource["dependent"] = branch
    if eligibility.get("copay_ratio") is not None:
        resource["costToBeneficiary"] = [_copay(eligibility["copay_ratio"])]
    resource["extension"] += _certificate_extensions(eligibility)
    return resource


def _certificate_extensions(eligibility: dict[str, Any]) -> list[dict[str, Any]]:
    """The elderly certificate (高齢受給者証) and, when the use case left it visible (the patient's
    limit-certificate consent), the limit certificate (限度額適用認定証): eligsim extensions, as no
    JP guide gives either a shape."""
    extensions = []
    elderly = eligibility.get("elderly_certificate")
    if elderly:
        copay = _quantity_percent(elderly["copay_ratio"])
        extensions.append(_certificate(ELDERLY_CERTIFICATE, elderly, copayRatio=copay))
    limit = eligibility.get("limit_certificate")
    if limit:
        bracket = _coded(LIMIT_BRACKET, limit["bracket_code"], limit["bracket_label"])
        classification = _coded(
            LIMIT_CLASSIFICATION, limit["classification"], limit["classification_label"]
        )
        extensions.append(
            _certificate(LIMIT_CERTIFICATE, limit, bracket=bracket, classification=classification)
        )
    return extensions


def _certificate(url: str, certificate: dict[str, Any], **parts: dict[str, Any]) -> dict[str, Any]:
    """A complex extension: the given parts, the validity period and the dates the registry has."""
    dates = {
        "issued": certificate.get("issued_on"),
        "longTermSince": certificate.get("long_term_on"),
    }
    values = {
        **parts,
        "period": {"valuePeriod": _period(certificate["valid_from"], certificate["valid_until"])},
        **{name: {"valueDate": _date(day)} for name, day in dates.items() if day},
    }
    return {"url": url, "extension": [{"url": name, **value} for name, value in values.items()]}


def _coded(system: str, code: str, display: str) -> dict[str, Any]:
    return {"valueCoding": {"system": system, "code": code, "display": display}}


def medication_dispense(record_id: str, visit_id: str, record: dict[str, Any]) -> dict[str, Any]:
    """JP_MedicationDispense: one dispensed drug, with its pharmacy and the prescription behind it
    (contained, as the records hold no resource of their own for either)."""
    dispenser = _organization("dispenser", record["dispenser_code"], record["dispenser_name"])
    prescriber = _organization("prescriber", record["prescriber_code"], record["prescriber_name"])
    drug = _drug(record)
    return {
        "resourceType": "MedicationDispense",
        "id": record_id,
        "meta": {"profile": [f"{PROFILE}/JP_MedicationDispense"]},
        "contained": [dispenser, prescriber, _prescription(visit_id, drug, record)],
        "status": "completed",
        "medicationCodeableConcept": drug,
        "subject": {"reference": f"Patient/{visit_id}"},
        "performer": [{"actor": {"reference": "#dispenser", "display": record["dispenser_name"]}}],
        "authorizingPrescription": [{"reference": "#prescription"}],
        "quantity": _whole_quantity(record),
        "daysSupply": _days(record["days"]),
        "whenHandedOver": _date(record["dispensed_on"]),
        "dosageInstruction": [{"text": record["usage"], "doseAndRate": [_daily_rate(record)]}],
        "note": [{"text": f"成分: {record['ingredient']}"}],
    }


def medication_request(
    visit_id: str, prescription: dict[str, Any], today: dt.date
) -> dict[str, Any]:
    """JP_MedicationRequest: one drug an institution prescribed (one Rp of one drug), the
    institution as a contained requester; active until its last day of use, then completed."""
    days, first, last = prescription["days"], prescription["issued_on"], prescription["last_day"]
    requester = _organization(
        "requester", prescription["institution_code"], prescription["institution_name"]
    )
    return {
        "resourceType": "MedicationRequest",
        "id": prescription["id"],
        "meta": {
            "profile": [f"{PROFILE}/JP_MedicationRequest"],
            "lastUpdated": prescription["recorded_at"].isoformat(),
        },
        "contained": [requester],
        "identifier": [
            {"system": RP_NUMBER, "value": "1"},
            {"system": ORDER_IN_RP, "value": "1"},
            {"system": RESOURCE_INSTANCE, "value": prescription["id"]},
        ],
        "status": "active" if last >= today else "completed",
        "intent": "order",
        "medicationCodeableConcept": _drug(prescription),
        "subject": {"reference": f"Patient/{visit_id}"},
        "authoredOn": _date(first),
        "requester": {"reference": "#requester", "display": prescription["institution_name"]},
        "note": [{"text": f"成分: {prescription['ingredient']}"}],
        "dosageInstruction": [
            {
                "extension": [
                    {"url": PERIOD_OF_USE, "valuePeriod": _period(first, last)},
                    {"url": USAGE_DURATION, "valueDuration": _days(days)},
                ],
                "text": prescription["usage"],
                "doseAndRate": [_daily_rate(prescription)],
            }
        ],
        "dispenseRequest": {
            "quantity": _whole_quantity(prescription),
            "expectedSupplyDuration": _days(days),
        },
    }


def _daily_rate(drug: dict[str, Any]) -> dict[str, Any]:
    """A record's ``quantity``, as claims and prescriptions give it: a day's quantity in ``unit``."""
    daily = {"value": drug["quantity"], "unit": drug["unit"]}
    return {"rateRatio": {"numerator": daily, "denominator": _days(1)}}


def _whole_quantity(drug: dict[str, Any]) -> dict[str, Any]:
    """What was dispensed or is to be: a day's quantity for all the days."""
    return {"value": round(drug["quantity"] * drug["days"], 3), "unit": drug["unit"]}


def checkup_observations(visit_id: str, checkup: dict[str, Any]) -> list[dict[str, Any]]:
    """One JP Core observation per measured item of a checkup, dated by the examination."""
    examined_on = _date(checkup["examined_on"])
    compact = examined_on.replace("-", "")  # the id stays within FHIR's 64 characters
    return [
        observation(f"{visit_id}-{compact}-{item['code']}", visit_id, examined_on, item)
        for item in checkup["items"]
    ]


def observation(
    resource_id: str, visit_id: str, examined_on: str, item: dict[str, Any]
) -> dict[str, Any]:
    category = observation_category(item["code"])
    profile = "JP_Observation_LabResult" if category == "laboratory" else "JP_Observation_Common"
    return {
        "resourceType": "Observation",
        "id": resource_id,
        "meta": {"profile": [f"{PROFILE}/{profile}"]},
        "status": "final",
        "category": [_coding(OBSERVATION_CATEGORY, category)],
        "code": {"text": item["name"], "coding": _item_codings(item)},
        "subject": {"reference": f"Patient/{visit_id}"},
        "effectiveDateTime": examined_on,
        **_value(item),
    }


def observation_category(code: str) -> str:
    return CATEGORY_BY_PREFIX.get(code[:2], "laboratory")


def consent(
    resource_id: str, visit_id: str, institution_code: str, given: dict[str, Any], now: dt.datetime
) -> dict[str, Any]:
    """Base R4 Consent (JP Core's is a placeholder): one category the patient let the institution
    see, from when until when; inactive once it has lapsed."""
    return {
        "resourceType": "Consent",
        "id": resource_id,
        "meta": {"profile": [f"{PROFILE}/JP_Consent"]},
        "status": "active" if given["available_until"] > now else "inactive",
        "scope": _coding("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy"),
        "category": [_coding(CONSENT_CATEGORY, given["category"])],
        "patient": {"reference": f"Patient/{visit_id}"},
        "dateTime": given["consented_at"].isoformat(),
        "organization": [{"identifier": {"system": INSTITUTION_NUMBER, "value": institution_code}}],
        "policyRule": {"text": "オンライン資格確認: 本人が顔認証付きカードリーダーで同意"},
        "provision": {
            "type": "permit",
            "period": {
                "start": given["consented_at"].isoformat(),
                "end": given["available_until"].isoformat(),
            },
        },
    }


def audit_event(resource_id: str, entry: dict[str, Any]) -> dict[str, Any]:
    """Base R4 AuditEvent (no JP profile exists): one line of the patient's access log, the
    institution as the requesting agent and the signed-in patient as the entity."""
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": resource_id,
        "type": {"system": AUDIT_ACTION, "code": entry["action"]},
        "action": AUDIT_ACTION_KIND.get(entry["action"], "E"),
        "recorded": entry["at"].isoformat(),
        "outcome": "4" if entry["outcome"] in REFUSALS else "0",
        "outcomeDesc": entry["outcome"],
        "agent": [_institution_agent(entry["institution_code"])],
        "source": {"observer": {"display": "eligsim"}},
        "entity": [_patient_entity()],
    }
    if entry["category"]:
        resource["subtype"] = [{"system": CONSENT_CATEGORY, "code": entry["category"]}]
    return resource


def _institution_agent(institution_code: str) -> dict[str, Any]:
    return {
        "type": _coding(
            "http://terminology.hl7.org/CodeSystem/extra-security-role-type", "datacollector"
        ),
        "who": {"identifier": {"system": INSTITUTION_NUMBER, "value": institution_code}},
        "requestor": True,
    }


def _patient_entity() -> dict[str, Any]:
    """The patient who signed in: the log holds nobody else's data, and no visit names them."""
    return {
        "what": {"display": "本人 (the signed-in patient)"},
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1"},
        "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1"},
    }


def _member_identifier(eligibility: dict[str, Any]) -> list[dict[str, Any]]:
    """被保険者個人識別子: insurer:symbol:number:branch, as JP-CLINS writes it."""
    if "insurer_number" not in eligibility:
        return []
    parts = (eligibility[k] or "" for k in ("insurer_number", "symbol", "number", "branch"))
    return [{"system": MEMBER_ID, "value": ":".join(parts)}]


def _name(full: str, representation: str) -> dict[str, Any]:
    """One JP_HumanName: family and given split at the space, joined by a half-width one."""
    family, _, given = full.replace("\u3000", " ").partition(" ")
    name: dict[str, Any] = {
        "extension": [{"url": NAME_REPRESENTATION, "valueCode": representation}],
        "use": "official",
        "text": f"{family} {given}".strip(),
        "family": family,
    }
    if given:
        name["given"] = [given]
    return name


def _address(eligibility: dict[str, Any]) -> dict[str, Any]:
    address: dict[str, Any] = {"text": eligibility["address"], "country": "JP"}
    if eligibility.get("post_code"):
        address["postalCode"] = eligibility["post_code"]
    return address


def _number_extensions(symbol: str | None, number: str, branch: str | None) -> list[dict[str, Any]]:
    parts = (("Symbol", symbol), ("Number", number), ("SubNumber", branch))
    return [
        {"url": f"{EXTENSION}/JP_Coverage_InsuredPerson{part}", "valueString": value}
        for part, value in parts
        if value
    ]


def _insurer(eligibility: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": "insurer",
        "meta": {"profile": [f"{PROFILE}/JP_Organization"]},
        "identifier": [{"system": INSURER_NUMBER, "value": eligibility["insurer_number"]}],
        "type": [_coding("http://terminology.hl7.org/CodeSystem/organization-type", "ins")],
        "name": eligibility["insurer_name"],
    }


def _insurance_category(insurer_number: str) -> str:
    """保険種別: 6 digits are a national health insurance, law code 39 the late-stage elderly."""
    if insurer_kind(insurer_number) == NATIONAL_HEALTH_INSURANCE:
        return "2"
    return "7" if is_late_stage_elderly(insurer_number) else "1"


def _copay(ratio: int) -> dict[str, Any]:
    return {
        "type": _coding("http://terminology.hl7.org/CodeSystem/coverage-copay-type", "copaypct"),
        **_quantity_percent(ratio),
    }


def _quantity_percent(ratio: int) -> dict[str, Any]:
    return {"valueQuantity": {"value": ratio, "unit": "%", "system": UCUM, "code": "%"}}


def _no_coverage(visit_id: str) -> dict[str, Any]:
    """What the visit found no qualification for still answers, as a cancelled coverage."""
    return {
        "resourceType": "Coverage",
        "id": visit_id,
        "status": "cancelled",
        "beneficiary": {"reference": f"Patient/{visit_id}"},
        "payor": [{"display": "(no qualification found)"}],
    }


def _organization(local_id: str, code: str, name: str) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": local_id,
        "meta": {"profile": [f"{PROFILE}/JP_Organization"]},
        "identifier": [{"system": INSTITUTION_NUMBER, "value": code}],
        "name": name,
    }


def _drug(record: dict[str, Any]) -> dict[str, Any]:
    """The printed drug name and its YJ code."""
    name = record["drug_name"]
    return {
        "text": name,
        "coding": [{"system": YJ_CODE, "code": record["drug_code"], "display": name}],
    }


def _days(days: int) -> dict[str, Any]:
    return {"value": days, "unit": "日", "system": UCUM, "code": "d"}


def _prescription(visit_id: str, drug: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": "prescription",
        "status": "completed",
        "intent": "order",
        "medicationCodeableConcept": drug,
        "subject": {"reference": f"Patient/{visit_id}"},
        "authoredOn": _date(record["prescribed_on"]),
        "requester": {"reference": "#prescriber", "display": record["prescriber_name"]},
    }


def _item_codings(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The checkup item code; the laboratory ones are JLAC10 codes as well."""
    codings = [{"system": CHECKUP_ITEM_CODE, "code": item["code"], "display": item["name"]}]
    if observation_category(item["code"]) == "laboratory":
        codings.append({"system": JLAC10, "code": item["code"], "display": item["name"]})
    return codings


def _value(item: dict[str, Any]) -> dict[str, Any]:
    if "text" in item or not item["unit"]:
        return {"valueCodeableConcept": {"text": item.get("text", str(item["value"]))}}
    unit = item["unit"]
    quantity = {"value": item["value"], "unit": unit, "system": UCUM}
    return {"valueQuantity": quantity | {"code": UCUM_UNITS.get(unit, unit)}}


def _coding(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _period(start: Any, end: Any) -> dict[str, str]:
    period = {"start": _date(start)}
    if end:
        period["end"] = _date(end)
    return period


def _date(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)
