"""A visit opened by a verified card, and the medical information its consents unlock."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.service.visits import visit_summary
from app.web.auth import authenticated, institution_code
from app.web.extensions import service
from app.web.routes import add_visit_record_routes, operation
from app.web.schemas import ConsentSchema, EligibilitySchema

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


@blueprint.route("/visits/<visit_id>")
@operation(blueprint, "get_visit")
@authenticated("institution")
@blueprint.response(200, VisitSchema)
def show_visit(visit_id: str) -> dict[str, Any]:
    """The visit's eligibility (as of its confirmation day) and what the patient consents to at this
    institution now: the newest choice per category stands, so a later decline removes a consent."""
    return visit_summary(service(), institution_code(), visit_id)


add_visit_record_routes(
    blueprint, institution_code, "{category}_records", guards=[authenticated("institution")]
)
