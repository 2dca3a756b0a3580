"""The patient's own view (as in マイナポータル): proven with their own card, shows their eligibility,
data, consents and who looked at what, when."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.service import portal
from app.service.consent import PORTAL_PAGES
from app.service.visits import issue_challenge
from app.web.extensions import bearer_key, portal_sign_in, service
from app.web.routes import add_record_routes, operation
from app.web.schemas import (
    CardProofSchema,
    CardSessionSchema,
    EligibilitySchema,
    PlannedResultSchema,
    PortalTokenSchema,
    card_proof,
)
from payer_registry.medical import Page

blueprint = Blueprint(
    "portal", __name__, url_prefix="/api/v1/portal", description="The patient's own view"
)


class PortalConsentSchema(Schema):
    institution_code = fields.String()
    category = fields.String()
    consented_at = fields.AwareDateTime()
    available_until = fields.AwareDateTime()


class AccessLogEntrySchema(Schema):
    at = fields.AwareDateTime()
    institution_code = fields.String()
    action = fields.String(metadata={"example": "view"})
    category = fields.String(allow_none=True)
    outcome = fields.String(metadata={"example": "shown"})
    disaster_access = fields.Boolean(
        metadata={"description": "災害時: searched or looked at without a card or a consent"}
    )


class PortalViewSchema(Schema):
    eligibility = fields.Nested(EligibilitySchema)
    consents = fields.List(fields.Nested(PortalConsentSchema))


class AccessLogSchema(Schema):
    entries = fields.List(fields.Nested(AccessLogEntrySchema))


class PrescriptionCheckEntrySchema(Schema):
    checked_at = fields.AwareDateTime()
    institution_code = fields.String()
    institution_name = fields.String()
    finding = fields.String(metadata={"example": "duplicate"})
    drugs = fields.List(fields.Nested(PlannedResultSchema))


class PrescriptionChecksSchema(Schema):
    checks = fields.List(fields.Nested(PrescriptionCheckEntrySchema))


@blueprint.route("/sessions", methods=["POST"])
@operation(blueprint, "create_portal_session")
@portal_sign_in
@blueprint.doc(security=[])
@blueprint.response(201, CardSessionSchema)
def create_session() -> dict[str, Any]:
    """A challenge for the patient's own card."""
    return issue_challenge(service(), None, "portal")


@blueprint.route("/sessions/<session_id>/verification", methods=["POST"])
@operation(blueprint, "open_portal")
@portal_sign_in
@blueprint.doc(security=[])
@blueprint.arguments(CardProofSchema)
@blueprint.response(201, PortalTokenSchema)
def verify(body: dict[str, Any], session_id: str) -> dict[str, Any]:
    """Prove the card (PIN mode) and receive a short-lived portal token."""
    return portal.open_portal(service(), session_id, card_proof(body))


@blueprint.route("/me")
@operation(blueprint, "get_my_view")
@blueprint.response(200, PortalViewSchema)
def me() -> dict[str, Any]:
    """My eligibility today (everything the payers hold about it) and every consent I gave."""
    return portal.my_view(service(), bearer_key())


@blueprint.route("/me/access-log")
@operation(blueprint, "get_my_access_log")
@blueprint.response(200, AccessLogSchema)
def my_access_log() -> dict[str, Any]:
    """Which institution did what with my data, and when (newest first)."""
    return portal.my_access_log(service(), bearer_key())


@blueprint.route("/me/prescription-checks")
@operation(blueprint, "get_my_prescription_checks")
@blueprint.response(200, PrescriptionChecksSchema)
def my_prescription_checks() -> dict[str, Any]:
    """The duplicate-medication checks (重複投薬等チェック) institutions made on me, newest first: when,
    where, the drugs they planned and what the check found for each."""
    return portal.my_prescription_checks(service(), bearer_key())


def _own_records(category: str) -> Any:
    def view(query: dict[str, Any]) -> Page:
        return portal.my_records(service(), bearer_key(), category, query)

    view.__doc__ = f"My {category} records, newest first."
    return view


add_record_routes(blueprint, "/me", PORTAL_PAGES, _own_records, "my_{category}_records")
