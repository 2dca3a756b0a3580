"""Eligibility as FHIR's own exchange: a CoverageEligibilityRequest read into the JSON API's check by
numbers, and its answer written as a CoverageEligibilityResponse (docs/fhir.md).

The request is read into the very fields of the JSON API's eligibility-check body and validated by
the same schema, so a number the JSON API refuses is refused here with the same code."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from marshmallow import ValidationError

from app.fhir import resources
from app.service.errors import ServiceError, field_error
from app.web.schemas import EligibilityCheckSchema

LIMIT_CONSENT = f"{resources.PROJECT}/StructureDefinition/limit-certificate-consent"
VALIDITY_EXTENSION = f"{resources.PROJECT}/StructureDefinition/eligibility-validity"
VALIDITY_SYSTEM = f"{resources.PROJECT}/CodeSystem/eligibility-validity"
BENEFIT_TYPE = "http://terminology.hl7.org/CodeSystem/benefit-type"
LIMIT_BENEFIT_TYPE = f"{resources.PROJECT}/CodeSystem/benefit-type"
BENEFIT_CATEGORY = "http://terminology.hl7.org/CodeSystem/ex-benefitcategory"
# validities that found one qualification (valid or not); the others found none to describe
FOUND = {"valid", "invalid", "invalid_new_exists"}
Resource = dict[str, Any]


def submitted(body: Any) -> Resource:
    """The posted body, refused unless it is a CoverageEligibilityRequest."""
    if not isinstance(body, dict) or body.get("resourceType") != "CoverageEligibilityRequest":
        raise field_error("resourceType", "send a CoverageEligibilityRequest")
    return body


def check_request(body: Resource) -> dict[str, Any]:
    """The JSON API's eligibility-check fields, read from a CoverageEligibilityRequest."""
    if "validation" not in _list(body, "purpose"):
        raise field_error("purpose", "only the purpose 'validation' is answered")
    coverage = _contained(body, _first_insurance(body).get("coverage"), "insurance.coverage")
    numbers = _coverage_numbers(coverage)
    fields = {
        "insurer_number": _insurer_number(body),
        "number": numbers.get("Number"),
        "birth_date": _contained(body, body.get("patient"), "patient").get("birthDate"),
        "limit_certificate_consent": _limit_consent(body),
        **({"symbol": numbers["Symbol"]} if "Symbol" in numbers else {}),
        **({"branch": numbers["SubNumber"]} if "SubNumber" in numbers else {}),
        **({"confirmation_date": body["servicedDate"]} if "servicedDate" in body else {}),
    }
    return _validated({k: v for k, v in fields.items() if v is not None})


def response(
    request: Resource, asked: dict[str, Any], eligibility: dict[str, Any], now: dt.datetime
) -> Resource:
    """The check's eligibility as a CoverageEligibilityResponse: validity as ``outcome`` and
    ``insurance.inforce`` (and an extension with the code), co-pay and limit bracket as benefits."""
    found = eligibility["validity"] in FOUND
    answer: Resource = {
        "resourceType": "CoverageEligibilityResponse",
        "id": str(uuid.uuid4()),
        "extension": [_validity(eligibility)],
        "contained": [_patient(eligibility, asked["birth_date"])],
        "status": "active",
        "purpose": ["validation"],
        "patient": {"reference": "#patient"},
        "created": now.isoformat(),
        "request": _request_reference(request),
        "outcome": "complete" if found else "error",
        "disposition": eligibility["validity"],
        "insurer": {
            "identifier": {"system": resources.INSURER_NUMBER, "value": asked["insurer_number"]}
        },
    }
    if found:
        _add_insurance(answer, eligibility)
    else:
        answer["error"] = [{"code": _validity(eligibility)["valueCodeableConcept"]}]
    return answer


def _add_insurance(answer: Resource, eligibility: dict[str, Any]) -> None:
    """The qualification found: its Coverage (insurer hoisted, contained resources not nesting)."""
    coverage = resources.coverage("coverage", eligibility)
    answer["contained"] += [*coverage.pop("contained"), coverage]
    coverage["beneficiary"] = {"reference": "#patient"}
    answer["insurer"] = {"reference": "#insurer", "display": eligibility["insurer_name"]}
    insurance: Resource = {
        "coverage": {"reference": "#coverage"},
        "inforce": eligibility["validity"] == "valid",
    }
    benefits = _benefits(eligibility)
    if benefits:
        category = {"coding": [{"system": BENEFIT_CATEGORY, "code": "30"}], "text": "医療保険"}
        insurance["item"] = [{"category": category, "benefit": benefits}]
    answer["insurance"] = [insurance]


def _benefits(eligibility: dict[str, Any]) -> list[Resource]:
    """Co-pay percent (the ratio) and, only when shown, the limit certificate's bracket."""
    benefits: list[Resource] = []
    if eligibility.get("copay_ratio") is not None:
        copay = {"coding": [{"system": BENEFIT_TYPE, "code": "copay-percent"}]}
        benefits.append({"type": copay, "allowedUnsignedInt": eligibility["copay_ratio"]})
    limit = eligibility.get("limit_certificate")
    if limit:
        bracket = {
            "coding": [{"system": LIMIT_BENEFIT_TYPE, "code": "limit-bracket"}],
            "text": f"限度額適用区分: {limit['bracket_label']}",
        }
        benefits.append({"type": bracket, "allowedString": limit["bracket_code"]})
    return benefits


def _validity(eligibility: dict[str, Any]) -> Resource:
    coding = {
        "system": VALIDITY_SYSTEM,
        "code": eligibility["validity_code"],
        "display": eligibility["validity"],
    }
    return {"url": VALIDITY_EXTENSION, "valueCodeableConcept": {"coding": [coding]}}


def _patient(eligibility: dict[str, Any], birth_date: dt.date) -> Resource:
    """The person the numbers found, identified by the insured person identifier (no visit names
    them); when none was found, only the birth date asked."""
    patient = resources.patient("patient", "", eligibility)
    patient["identifier"] = [i for i in patient["identifier"] if i["system"] == resources.MEMBER_ID]
    if not patient["identifier"]:
        del patient["identifier"]
    return {**patient, "birthDate": patient.get("birthDate", birth_date.isoformat())}


def _request_reference(request: Resource) -> Resource:
    if isinstance(request.get("id"), str):
        return {"reference": f"CoverageEligibilityRequest/{request['id']}"}
    return {"display": "the submitted CoverageEligibilityRequest"}


def _validated(fields: dict[str, Any]) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = EligibilityCheckSchema().load(fields)
    except ValidationError as error:
        message = f"the request's numbers are not valid: {error.messages}"
        raise ServiceError("VALIDATION_FAILED", message, {"json": error.messages}) from error
    return loaded


def _list(body: dict[str, Any], key: str) -> list[Any]:
    value = body.get(key)
    return value if isinstance(value, list) else []


def _first_insurance(body: dict[str, Any]) -> dict[str, Any]:
    insurance = _list(body, "insurance")
    if not insurance or not isinstance(insurance[0], dict):
        raise field_error("insurance", "name the card's Coverage in insurance[0].coverage")
    return insurance[0]


def _contained(body: dict[str, Any], reference: Any, where: str) -> dict[str, Any]:
    """The contained resource a ``#id`` reference names: the request carries what the card says."""
    target = reference.get("reference") if isinstance(reference, dict) else None
    for resource in _list(body, "contained"):
        if isinstance(resource, dict) and f"#{resource.get('id')}" == target:
            return resource
    raise field_error(where, f"{where} must reference a contained resource (#id)")


def _coverage_numbers(coverage: dict[str, Any]) -> dict[str, Any]:
    """記号・番号・枝番 from JP Core's Coverage extensions, keyed Symbol, Number, SubNumber."""
    prefix = f"{resources.EXTENSION}/JP_Coverage_InsuredPerson"
    return {
        extension["url"].removeprefix(prefix): extension.get("valueString")
        for extension in _list(coverage, "extension")
        if isinstance(extension, dict) and str(extension.get("url", "")).startswith(prefix)
    }


def _insurer_number(body: dict[str, Any]) -> Any:
    """The insurer number, from the contained insurer or the reference's own identifier."""
    insurer = body.get("insurer")
    identifiers = [insurer.get("identifier")] if isinstance(insurer, dict) else []
    if isinstance(insurer, dict) and "reference" in insurer:
        identifiers = _list(_contained(body, insurer, "insurer"), "identifier")
    for identifier in identifiers:
        if isinstance(identifier, dict) and identifier.get("system") == resources.INSURER_NUMBER:
            return identifier.get("value")
    raise field_error("insurer", f"give the insurer number under {resources.INSURER_NUMBER}")


def _limit_consent(body: dict[str, Any]) -> Any:
    for extension in _list(body, "extension"):
        if isinstance(extension, dict) and extension.get("url") == LIMIT_CONSENT:
            return extension.get("valueBoolean")
    return False
