"""The reader station: the card steps of the front-desk and patient pages, run on the service's
machine because a browser cannot talk PC/SC.

It reads the card the page names (a virtual card file or a PC/SC reader of this machine), verifies
the PIN the patient typed (or lets the simulated face reader attest), signs the challenge and calls
the same use cases as the public API, acting as the demo institution whose key
``eligsim demo setup`` leaves in ``<var>/demo/api-key``. It asks for no key, so it trusts only the
pages the service itself serves to a browser on this machine: the peer is loopback, the ``Host`` is a
loopback name on the service's port (a page whose DNS name was rebound to 127.0.0.1 still sends its own
name), the ``Origin`` (when sent) is the service's own, and every state-changing call carries the token
embedded in the page, which a page of another origin cannot read.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Any

from flask import request
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from app.frontdesk.desk import CardRequest, card_answer, check_pin, station_institution
from app.frontdesk.readers import catalogue
from app.service import consent, portal
from app.service.checks import NumbersCheck, check_numbers
from app.service.consent import Grant
from app.service.errors import ServiceError
from app.service.prescriptions import check_prescriptions, drug_list, record_prescription
from app.service.visits import issue_challenge, open_card_visit
from app.web.errors import ApiError
from app.web.extensions import service
from app.web.routes import add_visit_record_routes, operation
from app.web.schemas import (
    ConsentChoicesSchema,
    DrugListSchema,
    EligibilityCheckSchema,
    EligibilityResultSchema,
    PortalTokenSchema,
    PrescriptionCheckRequestSchema,
    PrescriptionCheckResultSchema,
    PrescriptionRequestSchema,
    PrescriptionSchema,
    StrictBoolean,
    StrictSchema,
    VisitOpenedSchema,
    no_consents,
    planned_drugs,
    prescribed_drug,
)
from payer_registry.limits import BRACKETS, bracket, monthly_limit

blueprint = Blueprint(
    "reader_station",
    __name__,
    url_prefix="/frontdesk/api",
    description="Reader station of the front-desk page (no key: it acts as the demo institution)",
)
NO_KEY: list[dict[str, Any]] = []  # the station's endpoints take no API key
TOKEN_HEADER = "X-Station-Token"
# State-changing calls take no key either, but the token of the page that makes them.
POST_DOC: dict[str, Any] = {
    "security": NO_KEY,
    "parameters": [
        {
            "in": "header",
            "name": TOKEN_HEADER,
            "required": True,
            "schema": {"type": "string"},
            "description": 'the token in the page\'s <meta name="station-token">',
        }
    ],
}
TOKEN_KEY_FILE = Path("station") / "page-token-key"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "https": 443}
# A Host header (or an origin's authority): a bracketed IPv6 address or a name, and an optional port.
AUTHORITY = re.compile(r"(?P<name>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(?P<port>[0-9]{1,5}))?")
ORIGIN = re.compile(r"(?P<scheme>[a-z]+)://(?P<authority>[^/?#]+)")


@blueprint.before_request
def _own_pages_only() -> None:
    """The station uses the machine's cards and the demo clinic's key without asking for one, so it
    answers only the service's own pages in a browser on this machine."""
    if not _is_loopback(request.remote_addr):
        raise ApiError(
            "STATION_LOCAL_ONLY", "the reader station answers only on this machine (loopback)"
        )
    if not _from_own_page():
        raise ApiError(
            "STATION_FORBIDDEN_ORIGIN",
            "the reader station answers only its own pages: open "
            f"http://127.0.0.1:{request.environ.get('SERVER_PORT', '')}/ on this machine",
        )
    if request.method not in SAFE_METHODS and not _valid_page_token(
        request.headers.get(TOKEN_HEADER, "")
    ):
        raise ApiError(
            "STATION_TOKEN_INVALID",
            f"the request lacks the station token of the page ({TOKEN_HEADER}): reload the page",
        )


def page_token() -> str:
    """The token a page served for this request embeds, or "" when the request would not pass the
    station's checks (e.g. a rebound DNS name): the token is never handed to another site."""
    return _new_page_token() if _is_loopback(request.remote_addr) and _from_own_page() else ""


def _is_loopback(address: str | None) -> bool:
    """Loopback, also written as an IPv4-mapped IPv6 address (``::ffff:127.0.0.1``, a ``[::]`` bind)."""
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:  # not an IP address (e.g. a unix socket): not known to be this machine
        return False
    mapped = parsed.ipv4_mapped if isinstance(parsed, ipaddress.IPv6Address) else None
    return (mapped or parsed).is_loopback


def _from_own_page() -> bool:
    """The Host names this machine (localhost or a loopback address) on the port the service listens
    on, and the Origin, when sent, is that same scheme, host and port. A page whose DNS name was
    rebound to 127.0.0.1 still sends its own name, and a page of another site its own origin."""
    own = _authority(request.headers.get("Host", ""), request.scheme)
    if own is None or not _names_this_machine(own[0]):
        return False
    origin = request.headers.get("Origin")
    return str(own[1]) == request.environ.get("SERVER_PORT") and (
        origin is None or _origin_authority(origin) == own
    )


def _origin_authority(origin: str) -> tuple[str, int | None] | None:
    """The authority of an origin of the request's own scheme (None for "null" or another scheme)."""
    match = ORIGIN.fullmatch(origin)
    if match is None or match["scheme"] != request.scheme:
        return None
    return _authority(match["authority"], request.scheme)


def _authority(text: str, scheme: str) -> tuple[str, int | None] | None:
    """``(name, port)`` of ``host[:port]``, the name in lower case and the port defaulted by the
    scheme; None when it is not one."""
    match = AUTHORITY.fullmatch(text)
    if match is None:
        return None
    port = int(match["port"]) if match["port"] else DEFAULT_PORTS.get(scheme)
    return match["name"].lower(), port


def _names_this_machine(name: str) -> bool:
    address = name[1:-1] if name.startswith("[") else name
    return name == "localhost" or _is_loopback(address)


# -- page tokens ----------------------------------------------------------------------------------


def _new_page_token() -> str:
    """A fresh ``nonce.mac`` for one page; any worker can check it with the shared key."""
    nonce = secrets.token_urlsafe(16)
    return f"{nonce}.{_mac(nonce)}"


def _valid_page_token(token: str) -> bool:
    nonce, _, mac = token.partition(".")
    given = mac.encode("utf-8", "replace")  # a header may hold any character: never a TypeError
    return bool(nonce) and hmac.compare_digest(_mac(nonce).encode("ascii"), given)


def _mac(nonce: str) -> str:
    key = _token_key(service().settings.var_dir)
    return hmac.new(key, nonce.encode("utf-8", "replace"), hashlib.sha256).hexdigest()


def _token_key(var_dir: Path) -> bytes:
    """The key page tokens are signed with, in the var directory so that every worker of the service
    shares it; made the first time a page needs it (delete the file to void every open page)."""
    path = var_dir / TOKEN_KEY_FILE
    if not path.exists():
        _create_once(path, secrets.token_bytes(32))
    return path.read_bytes()


def _create_once(path: Path, data: bytes) -> None:
    """Write ``path`` (0600) unless it exists; when two workers race, the first file stands."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)


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
    duplicate_details_category = fields.String(
        metadata={"description": "the consent under which a duplicate check shows its details"}
    )


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
@blueprint.doc(**POST_DOC)
@blueprint.arguments(CardRequestSchema)
@blueprint.response(200, PinCheckSchema)
def pin_check(body: dict[str, Any]) -> dict[str, int]:
    """Verify the PIN on the card, as the reader does before its consent screen."""
    return {"tries_left": check_pin(service(), CardRequest.from_body(body))}


@blueprint.route("/visits", methods=["POST"])
@operation(blueprint, "station_run_visit")
@blueprint.doc(**POST_DOC)
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
@blueprint.doc(**POST_DOC)
@blueprint.arguments(EligibilityCheckSchema)
@blueprint.response(200, EligibilityResultSchema)
def check_by_numbers(body: dict[str, Any]) -> dict[str, Any]:
    """Eligibility from the numbers on an insurance card, as the station's institution."""
    return check_numbers(service(), _code(), NumbersCheck.from_request(body))


add_visit_record_routes(
    blueprint, _code, "station_{category}_records", guards=[blueprint.doc(security=NO_KEY)]
)


@blueprint.route("/drugs")
@operation(blueprint, "station_list_drugs")
@blueprint.doc(security=NO_KEY)
@blueprint.response(200, DrugListSchema)
def drugs() -> dict[str, Any]:
    """The bundled drug list the page's planned-drug form searches."""
    return {"drugs": drug_list()}


@blueprint.route("/prescription-checks", methods=["POST"])
@operation(blueprint, "station_check_prescriptions")
@blueprint.doc(**POST_DOC)
@blueprint.arguments(PrescriptionCheckRequestSchema)
@blueprint.response(200, PrescriptionCheckResultSchema)
def check_planned_drugs(body: dict[str, Any]) -> dict[str, Any]:
    """The duplicate-medication check for a visit of the station's institution."""
    drugs = planned_drugs(body)
    return check_prescriptions(service(), _code(), body["visit_id"], drugs, body["staff_id"])


@blueprint.route("/prescriptions", methods=["POST"])
@operation(blueprint, "station_record_prescription")
@blueprint.doc(**POST_DOC)
@blueprint.arguments(PrescriptionRequestSchema)
@blueprint.response(201, PrescriptionSchema)
def record_planned_drug(body: dict[str, Any]) -> dict[str, Any]:
    """Record a drug the station's institution prescribes for one of its visits (処方): every
    institution's duplicate check sees it at once."""
    return record_prescription(service(), _code(), body["visit_id"], prescribed_drug(body))


@blueprint.route("/portal-sessions", methods=["POST"])
@operation(blueprint, "station_open_portal")
@blueprint.doc(**POST_DOC)
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
@blueprint.arguments(LimitQuerySchema, location="query", unknown=RAISE)
@blueprint.response(200, LimitSchema)
def limit(query: dict[str, Any]) -> dict[str, Any]:
    """The month's out-of-pocket limit (高額療養費) for a bracket and the month's medical cost."""
    found = bracket(query["bracket"])
    return query | {
        "label": found.label,
        "monthly_limit": monthly_limit(found.code, query["medical_cost"], query["many_times"]),
        "outpatient_limit": found.outpatient,
    }
