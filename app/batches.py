"""Batch pre-check (一括照会): submit many inquiries, get a reception number, poll for results."""

from __future__ import annotations

import dataclasses
import datetime as dt

from flask import current_app, g
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.auth import authenticated
from app.eligibility_checks import EligibilityCheckSchema
from app.errors import ApiError
from app.extensions import enqueue_or_refuse, registry
from app.schemas import EligibilitySchema, StrictSchema
from payer_registry import batch
from payer_registry.presenting import jsonable

blueprint = Blueprint("batches", __name__, url_prefix="/api/v1", description="Batch pre-check")
MAX_INQUIRIES = 20_000


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

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class BatchResultSchema(Schema):
    position = fields.Integer()
    eligibility = StoredJson(EligibilitySchema, allow_none=True)


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


@blueprint.route("/batches", methods=["POST"])
@authenticated("institution")
@blueprint.arguments(BatchRequestSchema)
@blueprint.response(202, BatchAcceptedSchema)
def submit(request: dict) -> dict:
    """Accept up to 20,000 inquiries; answers are computed in the background."""
    settings = current_app.config["SETTINGS"]
    inquiries = [jsonable(inquiry) for inquiry in request["inquiries"]]
    keep_for = dt.timedelta(hours=settings.batch_result_ttl_hours)
    with registry().begin() as conn:
        number = batch.create_batch(
            conn, g.principal.institution_code, inquiries, request["confirmation_date"], keep_for
        )
    enqueue_or_refuse(
        [("batch_range", number, start, end) for start, end in batch.chunks(len(inquiries))],
        undo=lambda: _discard(number),
    )
    return {"reception_number": number, "status": "queued", "total": len(inquiries)}


def _discard(number: str) -> None:
    with registry().begin() as conn:
        batch.discard(conn, number)


@blueprint.route("/batches/<reception_number>")
@authenticated("institution")
@blueprint.response(200, BatchStatusSchema)
def status(reception_number: str) -> dict:
    """Progress counts and one result per inquiry (null until answered)."""
    with registry().connect() as conn:
        found = batch.batch_status(conn, reception_number, g.principal.institution_code)
        if found is None:
            raise ApiError("NOT_FOUND", "no such batch (or its results have expired)")
        return {**dataclasses.asdict(found), "results": batch.batch_results(conn, reception_number)}
