"""The reader station: the card steps of the front-desk and patient pages, run on the service's
machine because a browser cannot talk PC/SC.

It reads the card the page names (a virtual card file or a PC/SC reader of this machine), verifies
the PIN the patient typed (or lets the simulated face reader attest), signs the challenge and calls
the same use cases as the public API, acting as the demo institution whose key
``eligsim demo setup`` leaves in ``<var>/demo/api-key``. It asks for no key, so it answers only
requests from this machine (loopback).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from flask import request
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.frontdesk.desk import CardRequest, card_answer, check_pin, station_institution
from app.frontdesk.readers import catalogue
from app.service import consent, portal
from app.service.checks import NumbersCheck, check_numbers
from app.service.consent import Grant
from app.service.errors import ServiceError
from app.service.visits import issue_challenge, open_card_visit
from app.web.errors import ApiError
from app.web.extensions import service
from app.web.routes import add_visit_record_routes, operation
from app.web.schemas import (
    ConsentChoicesSchema,
    EligibilityCheckSchema,
    EligibilityResultSchema,
    PortalTokenSchema,
    StrictBoolean,
    StrictSchema,
    VisitOpenedSchema,
    no_consents,
)
from payer_registry.limits import BRACKETS, bracket, monthly_limit

blueprint = Blueprint(
    "reader_station",
    __name__,
    url_prefix="/frontdesk/api",
    description="Reader station of the front-desk page (no key: it acts as the demo institution)",
)
NO_KEY: list[dict[str, Any]] = []  # the station's endpoints take no API key


@blueprint.before_request
def _loopback_only() -> None:
    """The station uses the machine's cards and the demo clinic's key without asking for one, so it
    answers only browsers on this machine."""
    if not _is_loopback(request.remote_addr):
        raise ApiError(
            "STATION_LOCAL_ONLY", "the reader station answers only on this machine (loopback)"
        )


def _is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:  # not an IP address (e.g. a unix socket): not known to be this machine
        return False


def _code() -> str:
    code: str = station_institution(service())["code"]
    return code


# -- schemas --------------------------------------------------------------------------------------


class CardRequestSchema(StrictSchema):
    reader = fields.String(required=True, validate=validate.Length(min=1, max=300))
    pin = fields.String(load_default=None, validate=validate.Regexp(r"^[0-9]{4}$"))
    force = StrictBoolean(
        load_default=False,
        metadata={"description": "send the PIN even with one try left (a mistake locks the card)"},
    )

    @validates_schema
    def _pin_needed(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("method", "pin") == "pin" and data.get("pin") is None:
            raise ValidationError("the PIN is needed in PIN mode", "pin")


class StationVisitSchema(CardRequestSchema):
    method = fields.String(load_default="pin", validate=validate.OneOf(["pin", "face"]))
    consents = fields.Nested(ConsentChoicesSchema, load_default=no_consents)
    staff_id = fields.String(load_default=None, validate=validate.Length(max=40))


class StationVisitResultSchema(VisitOpenedSchema):
    method = fields.String()


class PinCheckSchema(Schema):
    tries_left = fields.Integer()


class ReaderSchema(Schema):
    id = fields.String()
    kind = fields.String(metadata={"description": "virtual, pcsc or numbers"})
    title_ja = fields.String()
    title_en = fields.String()
    pin_hint = fields.String(allow_none=True)
    pin_tries_left = fields.Integer(allow_none=True)
    scenario = fields.Dict()


class InstitutionSchema(Schema):
    code = fields.String()
    name = fields.String()
    offered = fields.List(fields.String())


class RecordPageSchema(Schema):
    path = fields.String(metadata={"example": "medications"})
    category = fields.String(metadata={"example": "medication"})


class ConsentRulesSchema(Schema):
    categories = fields.List(fields.String())
    record_pages = fields.List(fields.Nested(RecordPageSchema))
    certificate_categories = fields.List(fields.String())
    default_offered = fields.List(fields.String())


class StationSchema(Schema):
    institution = fields.Nested(InstitutionSchema, allow_none=True)
    readers = fields.List(fields.Nested(ReaderSchema))
    notes = fields.List(fields.String())
    consent_rules = fields.Nested(ConsentRulesSchema)


class LimitQuerySchema(StrictSchema):
    bracket = fields.String(required=True, validate=validate.OneOf(sorted(BRACKETS)))
    medical_cost = fields.Integer(required=True, validate=validate.Range(min=0, max=10**10))
    many_times = fields.Boolean(load_default=False)


class LimitSchema(Schema):
    bracket = fields.String()
    label = fields.String()
    medical_cost = fields.Integer()
    many_times = fields.Boolean()
    monthly_limit = fields.Integer(metadata={"description": "yen, for the month"})
    outpatient_limit = fields.Integer(
        allow_none=True, metadata={"description": "70+: the outpatient limit per person"}
    )


# -- endpoints ------------------------------------------------------------------------------------


@blueprint.route("/station")
@operation(blueprint, "get_station")
@blueprint.doc(security=NO_KEY)
@blueprint.response(200, StationSchema)
def station() -> dict[str, Any]:
    """The station's institution (null when not set up: the notes say what to do), its readers and
    the consent rules the page follows."""
    found = catalogue(service().settings.var_dir)
    try:
        owner: dict[str, Any] | None = station_institution(service())
    except ServiceError as error:
        owner = None
        found.notes.insert(0, error.message)
    return {
        "institution": owner,
        "readers": found.readers,
        "notes": found.notes,
        "consent_rules": consent.rules(),
    }


@blueprint.route("/pin-checks", methods=["POST"])
@operation(blueprint, "station_check_pin")
@blueprint.doc(security=NO_KEY)
@blueprint.arguments(CardRequestSchema)
@blueprint.response(200, PinCheckSchema)
def pin_check(body: dict[str, Any]) -> dict[str, int]:
    """Verify the PIN on the card, as the reader does before its consent screen."""
    return {"tries_left": check_pin(service(), CardRequest.from_body(body))}


@blueprint.route("/visits", methods=["POST"])
@operation(blueprint, "station_run_visit")
@blueprint.doc(security=NO_KEY)
@blueprint.arguments(StationVisitSchema)
@blueprint.response(201, StationVisitResultSchema)
def run_visit(body: dict[str, Any]) -> dict[str, Any]:
    """A whole card visit: challenge, card (PIN or face), verification with the consents chosen."""
    ctx, code = service(), _code()
    session = issue_challenge(ctx, code, "visit")
    proof = card_answer(ctx, CardRequest.from_body(body), session["challenge"])
    grant = Grant.from_choices(body["consents"])
    opened = open_card_visit(ctx, code, session["session_id"], proof, grant, body["staff_id"])
    return opened | {"method": body["method"]}


@blueprint.route("/eligibility-checks", methods=["POST"])
@operation(blueprint, "station_check_eligibility")
@blueprint.doc(security=NO_KEY)
@blueprint.arguments(EligibilityCheckSchema)
@blueprint.response(200, EligibilityResultSchema)
def check_by_numbers(body: dict[str, Any]) -> dict[str, Any]:
    """Eligibility from the numbers on an insurance card, as the station's institution."""
    return check_numbers(service(), _code(), NumbersCheck.from_request(body))


add_visit_record_routes(
    blueprint, _code, "station_{category}_records", guards=[blueprint.doc(security=NO_KEY)]
)


@blueprint.route("/portal-sessions", methods=["POST"])
@operation(blueprint, "station_open_portal")
@blueprint.doc(security=NO_KEY)
@blueprint.arguments(CardRequestSchema)
@blueprint.response(201, PortalTokenSchema)
def open_patient_portal(body: dict[str, Any]) -> dict[str, Any]:
    """The patient's own card proven for the portal; use the token with /api/v1/portal/me."""
    ctx = service()
    session = issue_challenge(ctx, None, "portal")
    proof = card_answer(ctx, CardRequest.from_body(body), session["challenge"])
    return portal.open_portal(ctx, session["session_id"], proof)


@blueprint.route("/monthly-limit")
@operation(blueprint, "station_monthly_limit")
@blueprint.doc(security=NO_KEY)
@blueprint.arguments(LimitQuerySchema, location="query")
@blueprint.response(200, LimitSchema)
def limit(query: dict[str, Any]) -> dict[str, Any]:
    """The month's out-of-pocket limit (高額療養費) for a bracket and the month's medical cost."""
    found = bracket(query["bracket"])
    return query | {
        "label": found.label,
        "monthly_limit": monthly_limit(found.code, query["medical_cost"], query["many_times"]),
        "outpatient_limit": found.outpatient,
    }
