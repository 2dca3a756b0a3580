"""Whether a request was audited: for a client whose answer never arrived (a dropped connection, a
worker killed mid-request), by the request id it sent or was given (``X-Request-Id``)."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.service.checks import audited_request
from app.web.auth import authenticated, institution_code
from app.web.extensions import service
from app.web.routes import operation

blueprint = Blueprint(
    "audited_requests", __name__, url_prefix="/api/v1", description="Audited requests"
)


class AuditedEntrySchema(Schema):
    seq = fields.Integer()
    at = fields.AwareDateTime()
    action = fields.String()
    outcome = fields.String()


class AuditedRequestSchema(Schema):
    request_id = fields.String()
    audited = fields.Boolean()
    entries = fields.List(fields.Nested(AuditedEntrySchema))


@blueprint.route("/audited-requests/<request_id>")
@operation(blueprint, "get_audited_request")
@authenticated("institution")
@blueprint.response(200, AuditedRequestSchema)
def show_audited_request(request_id: str) -> dict[str, Any]:
    """Whether this institution's request with this `X-Request-Id` was audited, and its entries.

    Every answer of the API carries `X-Request-Id` (the client's own when it sent a well-formed
    one). A check is answered only after its audit entry is committed, so a check whose answer
    never arrived was served exactly when `audited` is true."""
    return audited_request(service(), institution_code(), request_id)
