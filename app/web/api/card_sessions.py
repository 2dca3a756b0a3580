"""Card sessions: a challenge for the reader, then the card's proof opens a visit with consents."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from app.service.consent import Grant
from app.service.visits import issue_challenge, open_card_visit
from app.web.auth import authenticated, institution_code
from app.web.extensions import service
from app.web.routes import operation
from app.web.schemas import CardSessionSchema, VerificationSchema, VisitOpenedSchema, card_proof

blueprint = Blueprint(
    "card_sessions", __name__, url_prefix="/api/v1", description="Card verification"
)


@blueprint.route("/card-sessions", methods=["POST"])
@operation(blueprint, "create_card_session")
@authenticated("institution")
@blueprint.response(201, CardSessionSchema)
def create_session() -> dict[str, Any]:
    """Issue a single-use challenge for the card reader."""
    return issue_challenge(service(), institution_code(), "visit")


@blueprint.route("/card-sessions/<session_id>/verification", methods=["POST"])
@operation(blueprint, "verify_card")
@authenticated("institution")
@blueprint.arguments(VerificationSchema)
@blueprint.response(201, VisitOpenedSchema)
def verify(body: dict[str, Any], session_id: str) -> dict[str, Any]:
    """Verify the card's answer, record the consents given at the reader and open a visit."""
    grant = Grant.from_choices(body["consents"])
    return open_card_visit(
        service(), institution_code(), session_id, card_proof(body), grant, body["staff_id"]
    )
