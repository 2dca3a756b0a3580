"""A checkup as the document Bundle of the checkup-report guide (健康診断結果報告書,
JP_Bundle_eCheckupGeneral): the Composition first, then the patient, the examining institution, a
doctor, the examination, the insurance and the checkup items (docs/fhir.md).

The Patient, Coverage and Observations are the ones the other views write; here they are collected
under ``urn:uuid`` full URLs and their references rewritten to point inside the Bundle."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

from app.fhir import resources
from app.service.errors import ServiceError
from payer_registry.eligibility import JAPAN

ECHECKUP = "http://jpfhir.jp/fhir/eCheckup"
BUNDLE_PROFILE = "http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_eCheckupGeneral"
COMPOSITION_PROFILE = f"{ECHECKUP}/StructureDefinition/JP_Composition_eCheckupGeneral"
BUNDLE_IDENTIFIER = "http://jpfhir.jp/fhir/clins/bundle-identifier"
RESOURCE_INSTANCE = f"{resources.JP_CORE}/IdSystem/resourceInstance-identifier"
VERSION_NUMBER = (
    "http://hl7.org/fhir/StructureDefinition/composition-clinicaldocument-versionNumber"
)
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
DOCUMENT_TYPE = "http://jpfhir.jp/fhir/Common/CodeSystem/doc-typecodes"
REPORT_CATEGORY = "urn:oid:2.16.840.1.113883.2.2.1.6.1001"  # 報告区分
PROGRAM_SERVICE = "urn:oid:1.2.392.200119.6.1002"  # 健診プログラムサービスコード
SECTION_CODE = f"{ECHECKUP}/CodeSystem/section-code"
# 検診・健診報告書; 特定健診情報; 特定健康診査; the section of 特定健診 results
CHECKUP_REPORT = ("53576-5", "検診・健診報告書")
SPECIFIC_CHECKUP_REPORT = ("10", "特定健診情報")
SPECIFIC_CHECKUP_PROGRAM = ("010", "特定健康診査")
RESULTS_SECTION = ("01011", "特定健診検査結果")
Resource = dict[str, Any]


def composition_id(visit_id: str, examined_on: dt.date) -> str:
    """The Composition of a visit's person's checkup: ``{visit_id}-{YYYYMMDD}``."""
    return f"{visit_id}-{examined_on:%Y%m%d}"


def parse_composition_id(value: str) -> tuple[str, dt.date]:
    """The visit and the examination day a Composition id names; any other id is not found."""
    visit_id, _, day = value.rpartition("-")
    if visit_id and day.isascii() and day.isdigit() and len(day) == 8:
        with suppress(ValueError):  # not a day of the calendar
            return visit_id, dt.date.fromisoformat(day)
    raise ServiceError("NOT_FOUND", "no such Composition")


def checkup_bundle(
    visit_id: str,
    institution_code: str,
    eligibility: dict[str, Any],
    checkup: dict[str, Any],
    now: dt.datetime,
) -> Resource:
    """The document: the Composition first, every entry under a ``urn:uuid`` full URL, every
    reference resolved inside the Bundle."""
    examined_on = checkup["examined_on"]
    composition_url = f"{resources.PROJECT}/Composition/{composition_id(visit_id, examined_on)}"
    document_id = str(uuid.uuid5(uuid.NAMESPACE_URL, composition_url))
    results = [
        *_insurance(visit_id, eligibility),
        *resources.checkup_observations(visit_id, checkup),
    ]
    members = [
        resources.patient(visit_id, institution_code, eligibility),
        _examining_institution(checkup["institution_name"]),
        _doctor(),
        _examination(visit_id, examined_on),
        *results,
    ]
    namespace = uuid.UUID(document_id)
    urls = {_local(m): f"urn:uuid:{uuid.uuid5(namespace, _local(m))}" for m in members}
    composition = _composition(document_id, visit_id, examined_on, results, urls)
    urls[_local(composition)] = f"urn:uuid:{document_id}"
    entries = [composition, *members]
    moment = now.astimezone(JAPAN).isoformat(timespec="milliseconds")
    return {
        "resourceType": "Bundle",
        "id": document_id,
        "meta": {"lastUpdated": moment, "profile": [BUNDLE_PROFILE]},
        "identifier": {
            "system": BUNDLE_IDENTIFIER,
            "value": f"{institution_code}^{examined_on.year}^{document_id}",
        },
        "type": "document",
        "timestamp": moment,
        "entry": [{"fullUrl": urls[_local(e)], "resource": _resolved(e, urls)} for e in entries],
    }


def _composition(
    document_id: str,
    visit_id: str,
    examined_on: dt.date,
    results: list[Resource],
    urls: dict[str, str],
) -> Resource:
    day = examined_on.isoformat()
    return {
        "resourceType": "Composition",
        "id": composition_id(visit_id, examined_on),
        "meta": {"profile": [COMPOSITION_PROFILE]},
        "extension": [{"url": VERSION_NUMBER, "valueString": "1"}],
        "identifier": {"system": RESOURCE_INSTANCE, "value": document_id},
        "status": "final",
        "type": _concept(DOCUMENT_TYPE, CHECKUP_REPORT),
        "category": [_concept(REPORT_CATEGORY, SPECIFIC_CHECKUP_REPORT)],
        "subject": {"reference": f"Patient/{visit_id}"},
        "encounter": {"reference": "Encounter/examination"},
        "date": day,
        "author": [
            {"reference": "Practitioner/checkup-doctor"},
            {"reference": "Organization/examining-institution"},
        ],
        "title": "特定健診結果報告書",
        "custodian": {"reference": "Organization/examining-institution"},
        "event": [
            {
                "code": [_concept(PROGRAM_SERVICE, SPECIFIC_CHECKUP_PROGRAM)],
                "period": {"start": day, "end": day},
            }
        ],
        "section": [
            {
                "title": RESULTS_SECTION[1],
                "code": _concept(SECTION_CODE, RESULTS_SECTION),
                "entry": [{"reference": urls[_local(r)]} for r in results],
            }
        ],
    }


def _examining_institution(name: str) -> Resource:
    """The institution that examined: the registry keeps its name only, no institution code."""
    return {
        "resourceType": "Organization",
        "id": "examining-institution",
        "meta": {"profile": [f"{resources.PROFILE}/JP_Organization"]},
        "name": name,
    }


def _doctor() -> Resource:
    """The guide asks for the doctor who reported; the registry records none, so the name is
    marked unknown rather than made up."""
    unknown = {"url": DATA_ABSENT, "valueCode": "unknown"}
    return {
        "resourceType": "Practitioner",
        "id": "checkup-doctor",
        "meta": {"profile": [f"{resources.PROFILE}/JP_Practitioner"]},
        "name": [{"extension": [unknown]}],
    }


def _examination(visit_id: str, examined_on: dt.date) -> Resource:
    day = examined_on.isoformat()
    return {
        "resourceType": "Encounter",
        "id": "examination",
        "meta": {"profile": [f"{resources.PROFILE}/JP_Encounter"]},
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": f"Patient/{visit_id}"},
        "period": {"start": day, "end": day},
        "serviceProvider": {"reference": "Organization/examining-institution"},
    }


def _insurance(visit_id: str, eligibility: dict[str, Any]) -> list[Resource]:
    """The insurance the visit confirmed, without the co-pay (the guide's insurance Coverage
    forbids it) and without the certificates; nothing when no qualification was found."""
    if "insurer_number" not in eligibility:
        return []
    coverage = resources.coverage(visit_id, eligibility)
    coverage.pop("costToBeneficiary", None)
    coverage["extension"] = [
        e for e in coverage["extension"] if e["url"].startswith(resources.EXTENSION)
    ]
    return [coverage]


def _resolved(resource: Resource, urls: dict[str, str]) -> Resource:
    """The resource with every ``Type/id`` reference to a member replaced by its full URL."""
    for holder in _references(resource):
        holder["reference"] = urls.get(holder["reference"], holder["reference"])
    return resource


def _references(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str):
            yield value
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _local(resource: Resource) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def _concept(system: str, coded: tuple[str, str]) -> Resource:
    code, display = coded
    return {"coding": [{"system": system, "code": code, "display": display}]}
