"""A visit opened by a verified card, and the medical information its consents unlock."""

from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.auth import authenticated
from app.eligibility_checks import visible
from app.errors import ApiError
from app.extensions import registry
from app.schemas import ConsentSchema, DateRangeQuerySchema, EligibilitySchema, PageSchema
from payer_registry.access import audit
from payer_registry.access.consent import ConsentState, consent_state, consents_of_visit
from payer_registry.access.sessions import get_visit
from payer_registry.clock import now_utc
from payer_registry.confirmation import confirm_person
from payer_registry.eligibility import JAPAN
from payer_registry.medical import Page, medical_page
from payer_registry.presenting import confirmation_dict

blueprint = Blueprint(
    "visits", __name__, url_prefix="/api/v1", description="Visits and medical information"
)


class VisitSchema(Schema):
    visit_id = fields.String()
    institution_code = fields.String()
    method = fields.String()
    confirmed_at = fields.AwareDateTime()
    eligibility = fields.Nested(EligibilitySchema)
    consents = fields.List(fields.Nested(ConsentSchema))


def _own_visit(visit_id: str, institution_code: str) -> dict:
    """The visit, when it belongs to the institution (others get 404, not a hint)."""
    with registry().connect() as conn:
        visit = get_visit(conn, visit_id)
    if visit is None or visit["institution_code"] != institution_code:
        raise ApiError("NOT_FOUND", "no such visit")
    return visit


@blueprint.route("/visits/<visit_id>")
@authenticated("institution")
@blueprint.response(200, VisitSchema)
def show_visit(visit_id: str) -> dict:
    """The visit's eligibility (as of its confirmation day) and the consents given at it."""
    visit = _own_visit(visit_id, g.principal.institution_code)
    with registry().connect() as conn:
        consents = consents_of_visit(conn, visit_id)
        result = confirm_person(
            conn, visit["person_id"], visit["confirmed_at"].astimezone(JAPAN).date()
        )
    live = {c["category"] for c in consents if c["available_until"] > now_utc()}
    return {
        "visit_id": visit_id,
        "institution_code": visit["institution_code"],
        "method": visit["method"],
        "confirmed_at": visit["confirmed_at"],
        "eligibility": visible(confirmation_dict(result), live),
        "consents": consents,
    }


def medical_records(institution_code: str, visit_id: str, category: str, query: dict) -> Page:
    """One page of the visit's ``category`` records for the institution that opened it, under a
    live consent; every look (shown or refused) is audited."""
    visit = _own_visit(visit_id, institution_code)
    with registry().begin() as conn:
        state, consent_id = consent_state(
            conn, visit["person_id"], visit["institution_code"], category, now_utc()
        )
        outcome = "shown" if state is ConsentState.LIVE else f"refused_{state}"
        audit.append(
            conn,
            actor="institution",
            action="view",
            outcome=outcome,
            institution_code=visit["institution_code"],
            staff_id=visit["staff_id"],
            person_id=visit["person_id"],
            category=category,
            visit_id=visit_id,
            consent_id=consent_id,
        )
    if state is ConsentState.EXPIRED:
        raise ApiError(
            "CONSENT_EXPIRED", f"the consent for {category} has expired; verify the card again"
        )
    if state is ConsentState.NONE:
        raise ApiError("CONSENT_REQUIRED", f"the patient has not consented to show {category} here")
    with registry().connect() as conn:
        return medical_page(conn, visit["person_id"], category, **query)


def _medical_view(category: str):
    def view(query: dict, visit_id: str):
        return medical_records(g.principal.institution_code, visit_id, category, query)

    view.__name__ = f"{category}_records"
    view.__doc__ = (
        f"The patient's {category} records, newest first; needs a live {category} consent."
    )
    return view


# path under a visit -> consent category of its records
RECORD_PAGES = {
    "medications": "medication",
    "checkups": "checkup",
    "clinical": "clinical",
    "surgeries": "surgery",
}

for _path, _category in RECORD_PAGES.items():
    blueprint.route(f"/visits/<visit_id>/{_path}")(
        authenticated("institution")(
            blueprint.arguments(DateRangeQuerySchema, location="query")(
                blueprint.response(200, PageSchema)(_medical_view(_category))
            )
        )
    )
