"""The reader station: the card steps of the front-desk and patient pages, run on the service's
machine because a browser cannot talk PC/SC.

It reads the card the page names (a virtual card file or a PC/SC reader of this machine), verifies
the PIN the patient typed (or lets the simulated face reader attest), signs the challenge and posts
the proof through the same functions as the public API, acting as the demo institution whose key
``eligsim demo setup`` leaves in ``<var>/demo/api-key``. It asks for no key, so it answers only
requests from this machine (loopback).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import current_app, request
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.card_sessions import (
    ConsentChoicesSchema,
    VisitOpenedSchema,
    issue_challenge,
    open_card_visit,
)
from app.eligibility_checks import EligibilityCheckSchema, EligibilityResultSchema, check_numbers
from app.errors import ERROR_CODES, ApiError
from app.extensions import registry
from app.frontdesk.readers import Reader, catalogue, connected
from app.portal import PortalTokenSchema, open_portal
from app.schemas import DateRangeQuerySchema, PageSchema, StrictBoolean, StrictSchema
from app.visits import RECORD_PAGES, medical_records
from card_reader.errors import CardError, WrongPin
from card_reader.face_reader import FaceReader
from card_reader.jpki import JpkiClient
from payer_registry.access.keys import authenticate, institution
from payer_registry.limits import BRACKETS, bracket, monthly_limit

blueprint = Blueprint(
    "reader_station",
    __name__,
    url_prefix="/frontdesk/api",
    description="Reader station of the front-desk page (no key: it acts as the demo institution)",
)
NO_KEY = []  # the station's endpoints take no API key
SETUP_HINT = "run scripts/run or `eligsim demo setup`"


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


def _var_dir() -> Path:
    return current_app.config["SETTINGS"].var_dir


def station_institution() -> dict:
    """The demo institution (code, name, offered) whose key the station uses."""
    path = _var_dir() / "demo" / "api-key"
    try:
        key = path.read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        raise ApiError(
            "STATION_NOT_READY", f"the reader station has no institution key: {SETUP_HINT}"
        ) from None
    with registry().connect() as conn:
        principal = authenticate(conn, key)
        found = institution(conn, principal.institution_code) if principal else None
    if found is None:
        raise ApiError("STATION_NOT_READY", f"the key in {path} is not valid: {SETUP_HINT}")
    return {"code": found["code"], "name": found["name"], "offered": list(found["offered"])}


@contextmanager
def _card_errors() -> Iterator[None]:
    """Card and reader errors as API errors with the card reader's stable code."""
    try:
        yield
    except CardError as error:
        code = error.code if error.code in ERROR_CODES else "CARD_ERROR"
        details = {"tries_left": error.tries_left} if isinstance(error, WrongPin) else {}
        raise ApiError(code, str(error), details | {"card_code": error.code}) from None


def _reader(reader_id: str) -> Reader:
    with _card_errors():
        return catalogue(_var_dir()).find(reader_id)


def card_answer(request: dict, challenge: bytes) -> tuple[bytes, bytes]:
    """The certificate and the signature over ``challenge``: the card's after the PIN, or in face
    mode the face reader's attestation."""
    reader = _reader(request["reader"])
    with _card_errors(), connected(reader) as transport:
        card = JpkiClient(transport)
        certificate = card.read_auth_certificate()
        if request.get("method") == "face":
            return certificate, FaceReader.load_or_create(_var_dir()).attest(challenge, certificate)
        card.verify_auth_pin(request["pin"], request["force"])
        return certificate, card.sign_challenge(challenge)


# -- schemas --------------------------------------------------------------------------------------


class CardRequestSchema(StrictSchema):
    reader = fields.String(required=True, validate=validate.Length(min=1, max=300))
    pin = fields.String(load_default=None, validate=validate.Regexp(r"^[0-9]{4}$"))
    force = StrictBoolean(
        load_default=False,
        metadata={"description": "send the PIN even with one try left (a mistake locks the card)"},
    )

    @validates_schema
    def _pin_needed(self, data: dict, **_) -> None:
        if data.get("method", "pin") == "pin" and data.get("pin") is None:
            raise ValidationError("the PIN is needed in PIN mode", "pin")


class StationVisitSchema(CardRequestSchema):
    method = fields.String(load_default="pin", validate=validate.OneOf(["pin", "face"]))
    consents = fields.Nested(
        ConsentChoicesSchema, load_default=lambda: ConsentChoicesSchema().load({})
    )
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


class StationSchema(Schema):
    institution = fields.Nested(InstitutionSchema, allow_none=True)
    readers = fields.List(fields.Nested(ReaderSchema))
    notes = fields.List(fields.String())


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
@blueprint.doc(security=NO_KEY)
@blueprint.response(200, StationSchema)
def station() -> dict:
    """The station's institution (null when not set up: the notes say what to do) and readers."""
    found = catalogue(_var_dir())
    try:
        owner = station_institution()
    except ApiError as error:
        owner = None
        found.notes.insert(0, error.message)
    return {"institution": owner, "readers": found.readers, "notes": found.notes}


@blueprint.route("/pin-checks", methods=["POST"])
@blueprint.doc(security=NO_KEY)
@blueprint.arguments(CardRequestSchema)
@blueprint.response(200, PinCheckSchema)
def check_pin(request: dict) -> dict:
    """Verify the PIN on the card, as the reader does before its consent screen."""
    reader = _reader(request["reader"])
    with _card_errors(), connected(reader) as transport:
        card = JpkiClient(transport)
        card.verify_auth_pin(request["pin"], request["force"])
        return {"tries_left": card.auth_pin_tries_left()}


@blueprint.route("/visits", methods=["POST"])
@blueprint.doc(security=NO_KEY)
@blueprint.arguments(StationVisitSchema)
@blueprint.response(201, StationVisitResultSchema)
def run_visit(request: dict) -> dict:
    """A whole card visit: challenge, card (PIN or face), verification with the consents chosen."""
    code = station_institution()["code"]
    session = issue_challenge(code, "visit")
    certificate, signature = card_answer(request, session["challenge"])
    proof = {
        "certificate": certificate,
        "signature": signature,
        **{key: request[key] for key in ("method", "consents", "staff_id")},
    }
    return open_card_visit(code, session["session_id"], proof) | {"method": request["method"]}


@blueprint.route("/eligibility-checks", methods=["POST"])
@blueprint.doc(security=NO_KEY)
@blueprint.arguments(EligibilityCheckSchema)
@blueprint.response(200, EligibilityResultSchema)
def check_by_numbers(request: dict) -> dict:
    """Eligibility from the numbers on an insurance card, as the station's institution."""
    return check_numbers(station_institution()["code"], request)


def _records_view(category: str):
    def view(query: dict, visit_id: str):
        return medical_records(station_institution()["code"], visit_id, category, query)

    view.__name__ = f"station_{category}_records"
    view.__doc__ = f"The station visit's {category} records, newest first, under a live consent."
    return view


for _path, _category in RECORD_PAGES.items():
    blueprint.route(f"/visits/<visit_id>/{_path}")(
        blueprint.doc(security=NO_KEY)(
            blueprint.arguments(DateRangeQuerySchema, location="query")(
                blueprint.response(200, PageSchema)(_records_view(_category))
            )
        )
    )


@blueprint.route("/portal-sessions", methods=["POST"])
@blueprint.doc(security=NO_KEY)
@blueprint.arguments(CardRequestSchema)
@blueprint.response(201, PortalTokenSchema)
def open_patient_portal(request: dict) -> dict:
    """The patient's own card proven for the portal; use the token with /api/v1/portal/me."""
    session = issue_challenge(None, "portal")
    certificate, signature = card_answer(request, session["challenge"])
    return open_portal(session["session_id"], certificate, signature)


@blueprint.route("/monthly-limit")
@blueprint.doc(security=NO_KEY)
@blueprint.arguments(LimitQuerySchema, location="query")
@blueprint.response(200, LimitSchema)
def limit(query: dict) -> dict:
    """The month's out-of-pocket limit (高額療養費) for a bracket and the month's medical cost."""
    found = bracket(query["bracket"])
    return query | {
        "label": found.label,
        "monthly_limit": monthly_limit(found.code, query["medical_cost"], query["many_times"]),
        "outpatient_limit": found.outpatient,
    }
