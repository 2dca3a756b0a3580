"""The patient's own view (as in マイナポータル): proven with their own card, shows their eligibility,
data, consents and who looked at what, when."""

from __future__ import annotations

import datetime as dt

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.auth import bearer_key
from app.card_proof import prove_card
from app.card_sessions import CardProofSchema, CardSessionSchema, issue_challenge
from app.errors import ApiError
from app.extensions import registry
from app.schemas import DateRangeQuerySchema, EligibilitySchema, PageSchema
from payer_registry.access.audit import access_log
from payer_registry.access.consent import consents_of_person
from payer_registry.access.sessions import open_portal_session, portal_person
from payer_registry.confirmation import confirm_person
from payer_registry.eligibility import today_in_japan
from payer_registry.medical import medical_page
from payer_registry.presenting import confirmation_dict

blueprint = Blueprint(
    "portal", __name__, url_prefix="/api/v1/portal", description="The patient's own view"
)
PORTAL_SESSION_TTL = dt.timedelta(minutes=30)


class PortalTokenSchema(Schema):
    token = fields.String(
        metadata={"description": "send as 'Authorization: Bearer TOKEN' to /portal/me"}
    )
    expires_at = fields.AwareDateTime()


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


class PortalViewSchema(Schema):
    eligibility = fields.Nested(EligibilitySchema)
    consents = fields.List(fields.Nested(PortalConsentSchema))


class AccessLogSchema(Schema):
    entries = fields.List(fields.Nested(AccessLogEntrySchema))


def _patient() -> int:
    token = bearer_key()
    with registry().connect() as conn:
        person_id = portal_person(conn, token) if token else None
    if person_id is None:
        raise ApiError("AUTH_INVALID", "prove your card again to open the portal")
    return person_id


@blueprint.route("/sessions", methods=["POST"])
@blueprint.doc(security=[])
@blueprint.response(201, CardSessionSchema)
def create_session() -> dict:
    """A challenge for the patient's own card."""
    return issue_challenge(None, "portal")


@blueprint.route("/sessions/<session_id>/verification", methods=["POST"])
@blueprint.doc(security=[])
@blueprint.arguments(CardProofSchema)
@blueprint.response(201, PortalTokenSchema)
def verify(proof: dict, session_id: str) -> dict:
    """Prove the card (PIN mode) and receive a short-lived portal token."""
    return open_portal(session_id, proof["certificate"], proof["signature"])


def open_portal(session_id: str, certificate: bytes, signature: bytes) -> dict:
    """The patient's card proven for a portal challenge: ``{token, expires_at}``."""
    person = prove_card(session_id, None, "portal", certificate, signature)
    with registry().begin() as conn:
        token, expires_at = open_portal_session(conn, person.id, PORTAL_SESSION_TTL)
    return {"token": token, "expires_at": expires_at}


@blueprint.route("/me")
@blueprint.response(200, PortalViewSchema)
def me() -> dict:
    """My eligibility today (everything the payers hold about it) and every consent I gave."""
    person_id = _patient()
    with registry().connect() as conn:
        result = confirm_person(conn, person_id, today_in_japan())
        consents = consents_of_person(conn, person_id)
    return {"eligibility": confirmation_dict(result), "consents": consents}


@blueprint.route("/me/access-log")
@blueprint.response(200, AccessLogSchema)
def my_access_log() -> dict:
    """Which institution did what with my data, and when (newest first)."""
    person_id = _patient()
    with registry().connect() as conn:
        return {"entries": access_log(conn, person_id)}


def _own_records(category: str):
    def view(query: dict):
        person_id = _patient()
        with registry().connect() as conn:
            return medical_page(conn, person_id, category, **query)

    view.__name__ = f"my_{category}_records"
    view.__doc__ = f"My {category} records, newest first."
    return view


for _path, _category in (("medications", "medication"), ("checkups", "checkup")):
    blueprint.route(f"/me/{_path}")(
        blueprint.arguments(DateRangeQuerySchema, location="query")(
            blueprint.response(200, PageSchema)(_own_records(_category))
        )
    )
