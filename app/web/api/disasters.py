"""Disaster mode (災害時モード): during a declared disaster period, an institution in one of its
prefectures searches a person without a card, then views what the search found without a consent."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.service import disasters
from app.service.consent import DISASTER_PAGES
from app.web.auth import authenticated, institution_code
from app.web.extensions import disaster_search, service
from app.web.routes import add_record_routes, operation
from app.web.schemas import EligibilitySchema, StrictSchema
from payer_registry.medical import Page

blueprint = Blueprint(
    "disasters", __name__, url_prefix="/api/v1", description="Disaster mode (災害時モード)"
)
SEXES = ("1", "2", "3")


class DisasterSearchSchema(StrictSchema):
    """What the patient can tell without a card. A name or kana, the birth date and the sex are
    needed (else `DISASTER_SEARCH_INCOMPLETE`); the address narrows the search."""

    name = fields.String(
        load_default=None, validate=validate.Length(max=100), metadata={"example": "山田 太郎"}
    )
    name_kana = fields.String(
        load_default=None, validate=validate.Length(max=100), metadata={"example": "ヤマダ タロウ"}
    )
    birth_date = fields.Date(load_default=None)
    sex = fields.String(load_default=None, validate=validate.OneOf(SEXES))
    address = fields.String(
        load_default=None,
        validate=validate.Length(max=200),
        metadata={"description": "the start of the address is enough", "example": "東京都千代田区"},
    )
    staff_id = fields.String(load_default=None, validate=validate.Length(max=40))


class DisasterPeriodSchema(Schema):
    id = fields.Integer()
    name = fields.String(allow_none=True)
    prefectures = fields.List(fields.String(metadata={"example": "13"}))
    starts_on = fields.Date(data_key="from", attribute="from")
    until = fields.Date(metadata={"description": "the last day handles can be used"})


class DisasterCandidateSchema(Schema):
    handle = fields.String(metadata={"description": "opaque; views this person during the period"})
    name_kana = fields.String()
    birth_date = fields.Date()
    sex = fields.String()
    address_area = fields.String(
        allow_none=True,
        metadata={"description": "prefecture and municipality only", "example": "東京都千代田区"},
    )


class DisasterSearchResultSchema(Schema):
    disaster = fields.Nested(DisasterPeriodSchema)
    candidates = fields.List(fields.Nested(DisasterCandidateSchema))


class DisasterEligibilitySchema(Schema):
    eligibility = fields.Nested(EligibilitySchema)


@blueprint.route("/disaster-searches", methods=["POST"])
@operation(blueprint, "search_in_disaster")
@disaster_search
@authenticated("institution")
@blueprint.arguments(DisasterSearchSchema)
@blueprint.response(200, DisasterSearchResultSchema)
def search(body: dict[str, Any]) -> dict[str, Any]:
    """Search a person without a card, during a disaster period covering the institution's
    prefecture (else `DISASTER_ACCESS_FORBIDDEN`).

    Answers the people matching every given field, at most three, each with only what tells them
    apart; more matches are refused (`DISASTER_SEARCH_TOO_BROAD`). Rate-limited apart from the
    key's other limits."""
    query = disasters.DisasterSearch.from_request(body)
    return disasters.search(service(), institution_code(), query)


@blueprint.route("/disaster-candidates/<handle>")
@operation(blueprint, "get_disaster_eligibility")
@authenticated("institution")
@blueprint.response(200, DisasterEligibilitySchema)
def eligibility(handle: str) -> dict[str, Any]:
    """The found person's eligibility today, without the certificates, while the disaster period
    of the search is open to the institution (no consent needed)."""
    return disasters.disaster_eligibility(service(), institution_code(), handle)


def _records(category: str) -> Any:
    def view(query: dict[str, Any], handle: str) -> Page:
        return disasters.disaster_records(service(), institution_code(), handle, category, query)

    view.__doc__ = (
        f"The found person's {category} records, newest first, while the disaster period of the "
        "search is open to the institution (no consent needed)."
    )
    return view


add_record_routes(
    blueprint,
    "/disaster-candidates/<handle>",
    DISASTER_PAGES,
    _records,
    "disaster_{category}_records",
    guards=[authenticated("institution")],
)
