"""Eligibility by insurance-card numbers, without a card: eligibility only (SPEC §3)."""

from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from marshmallow import ValidationError, fields, validate, validates

from app.auth import authenticated
from app.extensions import registry
from app.schemas import EligibilitySchema, StrictBoolean, StrictSchema
from payer_registry.access import audit
from payer_registry.confirmation import Inquiry, confirm_by_numbers
from payer_registry.eligibility import today_in_japan
from payer_registry.identifiers import IdentifierError, validate_insurer_number
from payer_registry.presenting import confirmation_dict

blueprint = Blueprint(
    "eligibility_checks", __name__, url_prefix="/api/v1", description="Eligibility by card numbers"
)


class EligibilityCheckSchema(StrictSchema):
    insurer_number = fields.String(
        required=True,
        metadata={"example": "06139992", "pattern": "^([0-9]{6}|[0-9]{8})$"},
    )
    symbol = fields.String(load_default="", validate=validate.Regexp(r"^[^:\s]{0,20}$"))
    number = fields.String(required=True, validate=validate.Regexp(r"^[0-9A-Za-z\-]{1,20}$"))
    branch = fields.String(
        load_default=None, allow_none=True, validate=validate.Regexp(r"^[0-9]{2}$")
    )
    birth_date = fields.Date(required=True)
    limit_certificate_consent = StrictBoolean(load_default=False)
    confirmation_date = fields.Date(load_default=None, allow_none=True)
    staff_id = fields.String(load_default=None, validate=validate.Length(max=40))

    @validates("insurer_number")
    def _insurer(self, value: str, **_) -> None:
        try:
            validate_insurer_number(value)
        except IdentifierError as error:
            raise ValidationError(str(error)) from None


class EligibilityResultSchema(StrictSchema):
    eligibility = fields.Nested(EligibilitySchema, required=True)


def visible(eligibility: dict, consented: set[str]) -> dict:
    """Hide what needs a consent the patient did not give (limit certificate, specific diseases)."""
    hidden = {"limit_certificate", "specific_diseases"} - consented
    return {key: value for key, value in eligibility.items() if key not in hidden}


@blueprint.route("/eligibility-checks", methods=["POST"])
@authenticated("institution")
@blueprint.arguments(EligibilityCheckSchema)
@blueprint.response(200, EligibilityResultSchema)
def check(request: dict) -> dict:
    """Confirm eligibility from the numbers on an insurance card.

    Medication, checkup, clinical and surgery information are never available this way; the limit
    certificate only when the staff records the patient's consent (`limit_certificate_consent`)."""
    return check_numbers(g.principal.institution_code, request)


def check_numbers(institution_code: str, request: dict) -> dict:
    """The audited check by numbers (``EligibilityCheckSchema`` fields) for an institution."""
    inquiry = Inquiry(
        request["insurer_number"],
        request["symbol"],
        request["number"],
        request["branch"],
        request["birth_date"],
    )
    at = request["confirmation_date"] or today_in_japan()
    consented = {"limit_certificate"} if request["limit_certificate_consent"] else set()
    with registry().begin() as conn:
        result = confirm_by_numbers(conn, inquiry, at)
        audit.append(
            conn,
            actor="institution",
            action="eligibility_check",
            outcome=str(result.validity),
            institution_code=institution_code,
            staff_id=request["staff_id"],
            person_id=result.person.id if result.person else None,
            category="limit_certificate" if consented else None,
        )
    return {"eligibility": visible(confirmation_dict(result), consented)}
