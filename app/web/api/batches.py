"""Batch pre-check (一括照会): submit many inquiries, get a reception number, poll for results."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from werkzeug.exceptions import HTTPException

from app.service.batches import MAX_INQUIRIES, batch_view, submit_batch
from app.web.auth import authenticated, institution_code
from app.web.extensions import counts_inquiries, service
from app.web.routes import operation
from app.web.schemas import EligibilityCheckSchema, EligibilitySchema, StrictSchema

blueprint = Blueprint("batches", __name__, url_prefix="/api/v1", description="Batch pre-check")


class InquirySchema(EligibilityCheckSchema):
    class Meta:
        exclude = ("confirmation_date", "staff_id")


class BatchRequestSchema(StrictSchema):
    inquiries = fields.List(
        fields.Nested(InquirySchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_INQUIRIES),
    )
    confirmation_date = fields.Date(load_default=None, allow_none=True)


class BatchAcceptedSchema(Schema):
    reception_number = fields.String(metadata={"example": "20261129-3F9A0C51D2"})
    status = fields.String()
    total = fields.Integer()


class StoredJson(fields.Nested):
    """A nested object kept as JSON text in the registry: documented by its schema, passed as is."""

    # (marshmallow's own Nested renames Field's first parameter, hence the ignore)
    def _serialize(self, nested_obj: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return nested_obj


class LineErrorSchema(Schema):
    code = fields.String(metadata={"example": "INQUIRY_FAILED"})
    message = fields.String()


class BatchResultSchema(Schema):
    position = fields.Integer()
    eligibility = StoredJson(EligibilitySchema, allow_none=True)
    error = fields.Nested(
        LineErrorSchema,
        allow_none=True,
        metadata={"description": "why this line has no eligibility (the other lines are answered)"},
    )


class BatchStatusSchema(Schema):
    reception_number = fields.String()
    status = fields.String(validate=validate.OneOf(["queued", "running", "done", "failed"]))
    total = fields.Integer()
    processed = fields.Integer()
    normal = fields.Integer(metadata={"description": "answered with one qualification found"})
    error = fields.Integer(metadata={"description": "answered not_found or multiple"})
    created_at = fields.AwareDateTime()
    expires_at = fields.AwareDateTime()
    results = fields.List(fields.Nested(BatchResultSchema))


def inquiries_sent() -> int:
    """How many inquiries the request's body holds. Read before validation, by the limiter, so it
    must not fail: a body too large or too deep counts one, and the view refuses it."""
    try:
        body = request.get_json(silent=True)
    except (HTTPException, RecursionError):
        return 1
    inquiries = body.get("inquiries") if isinstance(body, dict) else None
    return len(inquiries) if isinstance(inquiries, list) else 1


@blueprint.route("/batches", methods=["POST"])
@operation(blueprint, "submit_batch")
@counts_inquiries(inquiries_sent)
@authenticated("institution")
@blueprint.arguments(BatchRequestSchema)
@blueprint.response(202, BatchAcceptedSchema)
def submit(body: dict[str, Any]) -> dict[str, Any]:
    """Accept up to 20,000 inquiries; answers are computed in the background.

    Each inquiry counts against the key's inquiry limit, as a single check does. A batch that tries
    more than 3 birth dates for one insured number is refused (`BATCH_BIRTH_DATE_PROBING`)."""
    return submit_batch(service(), institution_code(), body["inquiries"], body["confirmation_date"])


@blueprint.route("/batches/<reception_number>")
@operation(blueprint, "get_batch")
@authenticated("institution")
@blueprint.response(200, BatchStatusSchema)
def status(reception_number: str) -> dict[str, Any]:
    """Progress counts and one result per inquiry (null until answered)."""
    return batch_view(service(), institution_code(), reception_number)
