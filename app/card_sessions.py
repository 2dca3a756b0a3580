"""Card sessions: a challenge for the reader, then the card's proof opens a visit with consents."""

from __future__ import annotations

import datetime as dt

from flask import current_app, g
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.auth import authenticated
from app.card_proof import Base64, prove_card
from app.eligibility_checks import visible
from app.errors import ApiError
from app.extensions import registry
from app.schemas import ConsentSchema, EligibilitySchema, StrictBoolean, StrictSchema
from payer_registry.access import audit
from payer_registry.access.consent import CATEGORIES, record_consents
from payer_registry.access.keys import institution
from payer_registry.access.sessions import open_session, open_visit
from payer_registry.confirmation import confirm_person
from payer_registry.eligibility import today_in_japan
from payer_registry.presenting import confirmation_dict

blueprint = Blueprint(
    "card_sessions", __name__, url_prefix="/api/v1", description="Card verification"
)


class CardSessionSchema(Schema):
    session_id = fields.String()
    challenge = Base64(metadata={"description": "random bytes to be signed by the card, base64"})
    expires_at = fields.AwareDateTime()


class ConsentChoicesSchema(StrictSchema):
    """What the patient chose on the reader's consent screen (同意画面)."""

    medication = StrictBoolean(load_default=False)
    checkup = StrictBoolean(load_default=False)
    clinical = StrictBoolean(load_default=False)
    surgery = StrictBoolean(load_default=False)
    limit_certificate = StrictBoolean(load_default=False)
    specific_diseases = StrictBoolean(load_default=False)


class CardProofSchema(StrictSchema):
    certificate = Base64(
        required=True, metadata={"description": "user-authentication certificate, DER, base64"}
    )
    signature = Base64(
        required=True,
        metadata={
            "description": "PIN mode: the card's PKCS#1 v1.5 SHA-256 signature over the challenge"
        },
    )


class VerificationSchema(CardProofSchema):
    signature = Base64(
        required=True,
        metadata={
            "description": "PKCS#1 v1.5 SHA-256, base64. PIN mode: the card's signature over the "
            "challenge. Face mode: a registered reader key's signature over the challenge followed "
            "by the certificate DER"
        },
    )
    method = fields.String(
        load_default="pin",
        validate=validate.OneOf(["pin", "face"]),
        metadata={"description": "pin: the card signed; face: a face-recognition reader attests"},
    )
    consents = fields.Nested(
        ConsentChoicesSchema, load_default=lambda: ConsentChoicesSchema().load({})
    )
    staff_id = fields.String(load_default=None, validate=validate.Length(max=40))


class VisitOpenedSchema(Schema):
    visit_id = fields.String()
    eligibility = fields.Nested(EligibilitySchema)
    consents = fields.List(fields.Nested(ConsentSchema))


def challenge_ttl() -> dt.timedelta:
    return dt.timedelta(seconds=current_app.config["SETTINGS"].challenge_ttl_seconds)


def issue_challenge(institution_code: str | None, purpose: str) -> dict:
    """A fresh single-use challenge: ``{session_id, challenge, expires_at}``."""
    with registry().begin() as conn:
        issued = open_session(conn, institution_code, purpose, challenge_ttl())
    return {
        "session_id": issued.session_id,
        "challenge": issued.challenge,
        "expires_at": issued.expires_at,
    }


@blueprint.route("/card-sessions", methods=["POST"])
@authenticated("institution")
@blueprint.response(201, CardSessionSchema)
def create_session() -> dict:
    """Issue a single-use challenge for the card reader."""
    return issue_challenge(g.principal.institution_code, "visit")


@blueprint.route("/card-sessions/<session_id>/verification", methods=["POST"])
@authenticated("institution")
@blueprint.arguments(VerificationSchema)
@blueprint.response(201, VisitOpenedSchema)
def verify(proof: dict, session_id: str) -> dict:
    """Verify the card's answer, record the consents given at the reader and open a visit."""
    return open_card_visit(g.principal.institution_code, session_id, proof)


def open_card_visit(code: str, session_id: str, proof: dict) -> dict:
    """The card's answer (``VerificationSchema`` fields) checked for institution ``code``: the
    consents recorded, the visit opened and audited; its id, eligibility and consents."""
    chosen = [category for category in CATEGORIES if proof["consents"][category]]
    with registry().connect() as conn:
        offered = institution(conn, code)["offered"]
    refused = [c for c in chosen if c not in offered]
    if refused:
        raise ApiError(
            "CONSENT_NOT_OFFERED",
            "the reader does not offer these categories",
            {"categories": refused},
        )
    person = prove_card(
        session_id,
        code,
        "visit",
        proof["certificate"],
        proof["signature"],
        proof["staff_id"],
        proof["method"],
    )
    with registry().begin() as conn:
        visit = open_visit(conn, code, person.id, proof["method"], proof["staff_id"])
        ttl = dt.timedelta(hours=current_app.config["SETTINGS"].consent_ttl_hours)
        consents = record_consents(
            conn, visit["id"], person.id, code, chosen, visit["confirmed_at"], ttl
        )
        result = confirm_person(conn, person.id, today_in_japan())
        _audit_visit(conn, visit, chosen, str(result.validity))
    return {
        "visit_id": visit["id"],
        "eligibility": visible(confirmation_dict(result), set(chosen)),
        "consents": consents,
    }


def _audit_visit(conn, visit: dict, chosen: list[str], validity: str) -> None:
    common = {
        "actor": "institution",
        "institution_code": visit["institution_code"],
        "staff_id": visit["staff_id"],
        "person_id": visit["person_id"],
        "visit_id": visit["id"],
    }
    audit.append(conn, action="card_verification", outcome=validity, **common)
    for category in chosen:
        audit.append(conn, action="consent", outcome="given", category=category, **common)
