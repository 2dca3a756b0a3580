"""A visit opened by a verified card, and the medical information its consents unlock."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.service.consent import RECORD_PAGES
from app.service.visits import medical_records, visit_summary
from app.web.auth import authenticated, institution_code
from app.web.extensions import service
from app.web.routes import add_record_routes, operation
from app.web.schemas import ConsentSchema, EligibilitySchema
from payer_registry.medical import Page

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
    """The visit's eligibility (as of its confirmation day) and the consents given at it."""
    return visit_summary(service(), institution_code(), visit_id)


def _records_view(category: str) -> Any:
    def view(query: dict[str, Any], visit_id: str) -> Page:
        return medical_records(service(), institution_code(), visit_id, category, query)

    view.__doc__ = (
        f"The patient's {category} records, newest first; needs a live {category} consent."
    )
    return view


add_record_routes(
    blueprint,
    "/visits/<visit_id>",
    RECORD_PAGES,
    _records_view,
    "{category}_records",
    guards=[authenticated("institution")],
)
