"""Prescriptions and the duplicate-medication check (重複投薬等チェック) across institutions."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from app.service.prescriptions import check_prescriptions, drug_list, record_prescription
from app.web.auth import authenticated, institution_code
from app.web.extensions import service
from app.web.routes import operation
from app.web.schemas import (
    DrugListSchema,
    PrescriptionCheckRequestSchema,
    PrescriptionCheckResultSchema,
    PrescriptionRequestSchema,
    PrescriptionSchema,
    planned_drugs,
    prescribed_drug,
)

blueprint = Blueprint(
    "prescriptions",
    __name__,
    url_prefix="/api/v1",
    description="Prescriptions and the duplicate-medication check",
)


@blueprint.route("/prescriptions", methods=["POST"])
@operation(blueprint, "record_prescription")
@authenticated("institution")
@blueprint.arguments(PrescriptionRequestSchema)
@blueprint.response(201, PrescriptionSchema)
def record(body: dict[str, Any]) -> dict[str, Any]:
    """Record a drug prescribed for the patient of one of this institution's card visits.

    Like an electronic prescription, every institution's duplicate check sees it at once (the
    registry's medication records, from claims, arrive about 45 days late)."""
    drug = prescribed_drug(body)
    return record_prescription(service(), institution_code(), body["visit_id"], drug)


@blueprint.route("/prescription-checks", methods=["POST"])
@operation(blueprint, "check_prescriptions")
@authenticated("institution")
@blueprint.arguments(PrescriptionCheckRequestSchema)
@blueprint.response(200, PrescriptionCheckResultSchema)
def check(body: dict[str, Any]) -> dict[str, Any]:
    """Check planned drugs against what the visit's patient takes, prescribed at any institution
    or dispensed (the registry's medication records).

    The same first 7 characters of the YJ code over overlapping days of use is a duplicate, the
    same first 4 a same-class warning. It runs with or without the patient's consent; without a live
    medication consent at this institution each match names only its ingredient. Audited; the
    patient's portal lists the check."""
    return check_prescriptions(
        service(), institution_code(), body["visit_id"], planned_drugs(body), body["staff_id"]
    )


@blueprint.route("/drugs")
@operation(blueprint, "list_drugs")
@authenticated("institution")
@blueprint.response(200, DrugListSchema)
def drugs() -> dict[str, Any]:
    """The bundled drug list (the drugs of the registry's synthetic data), by name."""
    return {"drugs": drug_list()}
