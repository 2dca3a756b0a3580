"""FHIR R4 views of a visit's person under JP Core: the same use cases, consent rules and audit as
the JSON API (``visit_summary``, ``medical_records``), written as FHIR resources."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import Response, request
from flask_smorest import Blueprint
from marshmallow import fields, validate

from app.fhir import document, eligibility, resources
from app.fhir.outcomes import (
    FHIR_JSON,
    FHIR_PREFIX,
    coded_outcome,
    fhir_response,
    register_outcomes,
)
from app.service import portal
from app.service.checks import NumbersCheck, check_numbers
from app.service.errors import ServiceError
from app.service.prescriptions import own_prescription, prescriptions_of_patient
from app.service.visits import medical_records, visit_summary
from app.web.auth import authenticated, institution_code
from app.web.extensions import bearer_key, counts_inquiries, service
from app.web.schemas import StrictSchema
from payer_registry.clock import now_utc
from payer_registry.eligibility import today_in_japan

blueprint = Blueprint(
    "fhir",
    __name__,
    url_prefix=FHIR_PREFIX,
    description="FHIR R4 views under JP Core (docs/fhir.md)",
)
register_outcomes(blueprint)

MAX_COUNT = 200
CHECKUPS_PER_READ = 200
Resource = dict[str, Any]


class PagingSchema(StrictSchema):
    count = fields.Integer(
        data_key="_count", load_default=50, validate=validate.Range(min=1, max=MAX_COUNT)
    )
    page = fields.Integer(
        data_key="_page", load_default=1, validate=validate.Range(min=1, max=100_000)
    )


class SearchSchema(PagingSchema):
    patient = fields.String(required=True, metadata={"description": "the visit id"})


class ObservationSearchSchema(SearchSchema):
    category = fields.String(
        metadata={"description": "laboratory, vital-signs or body-measurement (system|code too)"}
    )


SUBMIT_BODY = {
    "required": True,
    "description": "a CoverageEligibilityRequest with contained Patient, insurer and Coverage",
    "content": {FHIR_JSON: {"schema": {"type": "object"}}},
}


def fhir_operation(operation_id: str, summary: str) -> Callable[[Any], Any]:
    """Name the operation and say that it answers FHIR JSON (a resource or an OperationOutcome)."""
    body = {"content": {FHIR_JSON: {"schema": {"type": "object"}}}}
    outcome = {"description": "an OperationOutcome with the API's stable code", **body}
    return blueprint.doc(
        operationId=operation_id,
        summary=summary,
        responses={
            "200": {"description": "a FHIR resource", **body},
            "422": outcome,
            "default": outcome,
        },
    )


@blueprint.route("/metadata")
@fhir_operation("fhir_capabilities", "The CapabilityStatement: what this server serves")
@blueprint.doc(security=[])  # FHIR clients read it before they have a key
def capabilities() -> Response:
    return fhir_response(capability_statement())


@blueprint.route("/Patient/<visit_id>")
@fhir_operation("fhir_read_patient", "JP_Patient: the visit's person")
@authenticated("institution")
def read_patient(visit_id: str) -> Response:
    summary = visit_summary(service(), institution_code(), visit_id)
    return fhir_response(resources.patient(visit_id, institution_code(), summary["eligibility"]))


@blueprint.route("/Coverage/<visit_id>")
@fhir_operation("fhir_read_coverage", "JP_Coverage: the qualification the visit confirmed")
@authenticated("institution")
def read_coverage(visit_id: str) -> Response:
    summary = visit_summary(service(), institution_code(), visit_id)
    return fhir_response(resources.coverage(visit_id, summary["eligibility"]))


@blueprint.route("/Coverage")
@fhir_operation("fhir_search_coverage", "The visit's coverage as a searchset")
@blueprint.arguments(SearchSchema, location="query")
@authenticated("institution")
def search_coverage(query: dict[str, Any]) -> Response:
    visit_id = _visit_of(query)
    summary = visit_summary(service(), institution_code(), visit_id)
    found = [resources.coverage(visit_id, summary["eligibility"])]
    return _searchset(found, len(found), query)


@blueprint.route("/Consent")
@fhir_operation("fhir_search_consent", "What the patient consents to at this institution")
@blueprint.arguments(SearchSchema, location="query")
@authenticated("institution")
def search_consent(query: dict[str, Any]) -> Response:
    visit_id, code = _visit_of(query), institution_code()
    given = visit_summary(service(), code, visit_id)["consents"]
    now = now_utc()
    found = [resources.consent(_consent_id(visit_id, c), visit_id, code, c, now) for c in given]
    return _searchset(_page_of(found, query), len(found), query)


@blueprint.route("/MedicationDispense")
@fhir_operation("fhir_search_medication_dispense", "Dispensed drugs; needs a medication consent")
@blueprint.arguments(SearchSchema, location="query")
@authenticated("institution")
def search_medication_dispense(query: dict[str, Any]) -> Response:
    visit_id = _visit_of(query)
    page = medical_records(
        service(), institution_code(), visit_id, "medication", _record_query(query)
    )
    first = (query["page"] - 1) * query["count"]
    found = [
        resources.medication_dispense(f"{visit_id}-med-{first + n + 1}", visit_id, record)
        for n, record in enumerate(page.items)
    ]
    return _searchset(found, page.total, query)


@blueprint.route("/MedicationRequest")
@fhir_operation(
    "fhir_search_medication_request",
    "Recorded prescriptions: this institution's always, others' under a medication consent",
)
@blueprint.arguments(SearchSchema, location="query")
@authenticated("institution")
def search_medication_request(query: dict[str, Any]) -> Response:
    """The prescriptions recorded for the visit's patient (newest first). Other institutions' are
    left out without a live medication consent here; a ``search.mode: outcome`` entry then says
    why (CONSENT_REQUIRED or CONSENT_EXPIRED), and the answer is still 200."""
    visit_id = _visit_of(query)
    seen = prescriptions_of_patient(service(), institution_code(), visit_id)
    today = today_in_japan()
    found = [resources.medication_request(visit_id, item, today) for item in seen.items]
    withheld = seen.withheld
    outcome = None
    if withheld:  # what was left out, and why: the consent refusal's code and message
        outcome = coded_outcome("warning", "suppressed", withheld.code, withheld.message)
    return _searchset(_page_of(found, query), len(found), query, outcome)


@blueprint.route("/MedicationRequest/<prescription_id>")
@fhir_operation("fhir_read_medication_request", "A prescription this institution recorded")
@authenticated("institution")
def read_medication_request(prescription_id: str) -> Response:
    prescription = own_prescription(service(), institution_code(), prescription_id)
    subject = prescription["visit_id"]
    return fhir_response(resources.medication_request(subject, prescription, today_in_japan()))


@blueprint.route("/Observation")
@fhir_operation("fhir_search_observation", "Checkup items; needs a checkup consent")
@blueprint.arguments(ObservationSearchSchema, location="query")
@authenticated("institution")
def search_observation(query: dict[str, Any]) -> Response:
    visit_id = _visit_of(query)
    wanted = _category_of(query.get("category"))
    found = [
        item
        for checkup in _all_checkups(visit_id)
        for item in resources.checkup_observations(visit_id, checkup)
        if wanted is None or item["category"][0]["coding"][0]["code"] == wanted
    ]
    return _searchset(_page_of(found, query), len(found), query)


@blueprint.route("/Composition/<composition_id>/$document")
@fhir_operation("fhir_checkup_document", "A checkup as a document Bundle; needs a checkup consent")
@authenticated("institution")
def checkup_document(composition_id: str) -> Response:
    """The checkup-report document (健康診断結果報告書) of one checkup, the Composition id being
    ``{visit_id}-{YYYYMMDD}``: read under the checkup consent as Observation reads it."""
    visit_id, examined_on = document.parse_composition_id(composition_id)
    checkup = _checkup_on(visit_id, examined_on)
    summary = visit_summary(service(), institution_code(), visit_id)
    bundle = document.checkup_bundle(
        visit_id, institution_code(), summary["eligibility"], checkup, now_utc()
    )
    return fhir_response(bundle)


@blueprint.route("/AuditEvent")
@fhir_operation("fhir_search_audit_event", "The patient's access log; needs a portal token")
@blueprint.arguments(PagingSchema, location="query")
def search_audit_event(query: dict[str, Any]) -> Response:
    """Which institution did what with my data, and when: the portal's access log (newest first),
    read with the patient's portal token instead of an institution key."""
    entries = portal.my_access_log(service(), bearer_key())["entries"]
    found = [resources.audit_event(f"access-{n}", e) for n, e in enumerate(entries, 1)]
    return _searchset(_page_of(found, query), len(found), query)


@blueprint.route("/CoverageEligibilityRequest/$submit", methods=["POST"])
@fhir_operation("fhir_submit_coverage_eligibility", "Eligibility by card numbers, the FHIR way")
@blueprint.doc(requestBody=SUBMIT_BODY)
@counts_inquiries(lambda: 1)
@authenticated("institution")
def submit_coverage_eligibility() -> Response:
    """A CoverageEligibilityRequest (the card's numbers and the birth date) answered with a
    CoverageEligibilityResponse, through the JSON API's audited check by numbers."""
    submitted = eligibility.submitted(request.get_json(silent=True))
    asked = eligibility.check_request(submitted)
    check = check_numbers(service(), institution_code(), NumbersCheck.from_request(asked))
    return fhir_response(eligibility.response(submitted, asked, check["eligibility"], now_utc()))


def _all_checkups(visit_id: str) -> list[dict[str, Any]]:
    """Every checkup of the person, newest first, read as the JSON API reads them (one audited
    look per page of the use case)."""
    checkups: list[dict[str, Any]] = []
    page_number = 1
    while True:
        query = {"page": page_number, "page_size": CHECKUPS_PER_READ}
        page = medical_records(service(), institution_code(), visit_id, "checkup", query)
        checkups += page.items
        if page_number * CHECKUPS_PER_READ >= page.total:
            return checkups
        page_number += 1


def _checkup_on(visit_id: str, examined_on: dt.date) -> dict[str, Any]:
    """The person's checkup of that day (the newest, should there be two), in one audited look."""
    query = {"date_from": examined_on, "date_to": examined_on, "page": 1, "page_size": 1}
    page = medical_records(service(), institution_code(), visit_id, "checkup", query)
    if not page.items:
        raise ServiceError("NOT_FOUND", "no checkup of this patient on that day")
    checkup: dict[str, Any] = page.items[0]
    return checkup


def _consent_id(visit_id: str, given: dict[str, Any]) -> str:
    """FHIR ids take no underscore (``limit_certificate``)."""
    return f"{visit_id}-{given['category'].replace('_', '-')}"


def _visit_of(query: dict[str, Any]) -> str:
    """``patient`` names the visit, bare or as ``Patient/<id>``."""
    value: str = query["patient"]
    return value.removeprefix("Patient/")


def _category_of(value: str | None) -> str | None:
    """The category code, with or without its system; an unknown one matches nothing."""
    if value is None:
        return None
    return value.rpartition("|")[2]


def _record_query(query: dict[str, Any]) -> dict[str, Any]:
    return {"page": query["page"], "page_size": query["count"]}


def _page_of(found: list[Resource], query: dict[str, Any]) -> list[Resource]:
    first = (query["page"] - 1) * query["count"]
    return found[first : first + query["count"]]


def _searchset(
    found: list[Resource], total: int, query: dict[str, Any], outcome: Resource | None = None
) -> Response:
    """A searchset Bundle with ``self`` and, when more remain, ``next`` links; ``outcome`` (what
    was left out, and why) is an extra entry of every page."""
    links = [{"relation": "self", "url": _page_url(query["page"])}]
    if query["page"] * query["count"] < total:
        links.append({"relation": "next", "url": _page_url(query["page"] + 1)})
    bundle: Resource = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": [
            {
                "fullUrl": f"{request.host_url}fhir/r4/{item['resourceType']}/{item['id']}",
                "resource": item,
                "search": {"mode": "match"},
            }
            for item in found
        ],
    }
    if outcome:
        bundle["entry"].append({"resource": outcome, "search": {"mode": "outcome"}})
    return fhir_response(bundle)


def _page_url(page: int) -> str:
    arguments = request.args.to_dict() | {"_page": str(page)}
    return f"{request.base_url}?{urlencode(arguments)}"


# what is served: resource type -> (interactions, search parameters)
SERVED: dict[str, tuple[tuple[str, ...], tuple[tuple[str, str], ...]]] = {
    "Patient": (("read",), ()),
    "Coverage": (("read", "search-type"), (("patient", "reference"),)),
    "MedicationDispense": (("search-type",), (("patient", "reference"),)),
    "MedicationRequest": (("read", "search-type"), (("patient", "reference"),)),
    "Observation": (("search-type",), (("patient", "reference"), ("category", "token"))),
    "Consent": (("search-type",), (("patient", "reference"),)),
    "AuditEvent": (("search-type",), ()),
    "CoverageEligibilityRequest": ((), ()),
    "Composition": ((), ()),
}
# resource type -> the operation it answers (no read or search) and its definition
OPERATIONS = {
    "CoverageEligibilityRequest": (
        "submit",
        f"{resources.PROJECT}/OperationDefinition/CoverageEligibilityRequest-submit",
    ),
    "Composition": ("document", "http://hl7.org/fhir/OperationDefinition/Composition-document"),
}
PROFILES = {
    "Patient": f"{resources.PROFILE}/JP_Patient",
    "Coverage": f"{resources.PROFILE}/JP_Coverage",
    "MedicationDispense": f"{resources.PROFILE}/JP_MedicationDispense",
    "MedicationRequest": f"{resources.PROFILE}/JP_MedicationRequest",
    "Observation": f"{resources.PROFILE}/JP_Observation_LabResult",
    "Consent": f"{resources.PROFILE}/JP_Consent",
    "Composition": document.COMPOSITION_PROFILE,
}
BASE_PROFILE = "http://hl7.org/fhir/StructureDefinition"


def capability_statement() -> Resource:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": dt.date.today().isoformat(),
        "kind": "instance",
        "software": {"name": "eligsim"},
        "implementation": {"description": "eligsim FHIR R4 views", "url": request.base_url},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "description": "Authorization: Bearer <institution API key>; AuditEvent "
                    "takes the patient's portal token instead"
                },
                "resource": [_served(kind, *served) for kind, served in SERVED.items()],
            }
        ],
    }


def _served(
    kind: str, interactions: tuple[str, ...], searches: tuple[tuple[str, str], ...]
) -> Resource:
    resource: Resource = {
        "type": kind,
        "profile": _profile(kind),
    }
    if interactions:
        resource["interaction"] = [{"code": code} for code in interactions]
    if kind in OPERATIONS:
        name, definition = OPERATIONS[kind]
        resource["operation"] = [{"name": name, "definition": definition}]
    if "search-type" in interactions:
        paging = (("_count", "number"), ("_page", "number"))
        resource["searchParam"] = [{"name": n, "type": t} for n, t in (*searches, *paging)]
    return resource


def _profile(kind: str) -> str:
    """The JP profile, or the base R4 one where no JP guide has one (AuditEvent)."""
    return PROFILES.get(kind, f"{BASE_PROFILE}/{kind}")
