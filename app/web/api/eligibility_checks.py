"""Eligibility by insurance-card numbers, without a card: eligibility only."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from app.service.checks import NumbersCheck, check_numbers
from app.web.auth import authenticated, institution_code
from app.web.extensions import counts_inquiries, service
from app.web.routes import json_operation, operation
from app.web.schemas import EligibilityCheckSchema, EligibilityResultSchema

blueprint = Blueprint(
    "eligibility_checks", __name__, url_prefix="/api/v1", description="Eligibility by card numbers"
)


@blueprint.route("/eligibility-checks", methods=["POST"])
@operation(blueprint, "check_eligibility")
@counts_inquiries(lambda: 1)
@authenticated("institution")
@json_operation(blueprint, EligibilityCheckSchema(), EligibilityResultSchema())
def check(body: dict[str, Any]) -> dict[str, Any]:
    """Confirm eligibility from the numbers on an insurance card.

    Medication, checkup, clinical and surgery information are never available this way; the limit
    certificate only when the staff records the patient's consent (`limit_certificate_consent`)."""
    return check_numbers(service(), institution_code(), NumbersCheck.from_request(body))
