"""Payer endpoints: register, update and end qualifications, validated as ``registry import`` is."""

from __future__ import annotations

from typing import Any

from flask import g, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.service import uploads
from app.web.auth import authenticated
from app.web.extensions import service
from app.web.routes import operation
from app.web.schemas import StrictSchema
from payer_registry.records import LOSS_REASONS, registry_date

blueprint = Blueprint("payer", __name__, url_prefix="/api/v1/payer", description="Payer updates")
UPLOAD_BYTES = 64 << 20


class RecordsSchema(StrictSchema):
    records = fields.List(
        fields.Dict(),
        required=True,
        validate=validate.Length(min=1, max=uploads.MAX_UPLOAD),
        metadata={
            "description": "person records in the format of `eligsim registry export`, "
            "without card links"
        },
    )


class WrittenSchema(Schema):
    written = fields.Integer()


class UploadAcceptedSchema(Schema):
    upload_id = fields.String()
    status = fields.String()
    total = fields.Integer()


class UploadStatusSchema(UploadAcceptedSchema):
    written = fields.Integer()
    error = fields.String(allow_none=True)


class LossSchema(StrictSchema):
    insured_number = fields.String(required=True, metadata={"example": "06139992:12-34:5678:01"})
    lost_on = registry_date(required=True)
    loss_reason = fields.String(required=True, validate=validate.OneOf(LOSS_REASONS))


class QualificationEndedSchema(Schema):
    insured_number = fields.String()
    lost_on = fields.Date()
    loss_reason = fields.String()


@blueprint.route("/records", methods=["POST"])
@operation(blueprint, "write_person_records")
@authenticated("payer")
@blueprint.arguments(RecordsSchema)
@blueprint.response(200, WrittenSchema)
def write(body: dict[str, Any]) -> dict[str, int]:
    """Register or update up to 500 persons at once (upsert by individualized insured number).

    Every insured number must belong to one of the account's insurers, and so must every
    qualification an updated person already holds; records carry no card links."""
    return uploads.write_now(service(), g.principal, body["records"])


@blueprint.route("/uploads", methods=["POST"])
@operation(blueprint, "upload_person_records")
@authenticated("payer")
@blueprint.arguments(RecordsSchema)
@blueprint.response(202, UploadAcceptedSchema)
def upload(body: dict[str, Any]) -> dict[str, Any]:
    """Register or update up to 20,000 persons in the background; poll the upload for its status.

    The records are checked as at /payer/records before the upload is queued."""
    return uploads.submit_upload(service(), g.principal, body["records"])


@blueprint.route("/uploads/<upload_id>")
@operation(blueprint, "get_upload")
@authenticated("payer")
@blueprint.response(200, UploadStatusSchema)
def upload_status(upload_id: str) -> dict[str, Any]:
    """queued, done (with how many were written) or failed (nothing written).

    Only the account that sent the upload sees it."""
    return uploads.upload_view(service(), g.principal, upload_id)


@blueprint.route("/qualification-losses", methods=["POST"])
@operation(blueprint, "end_qualification")
@authenticated("payer")
@blueprint.arguments(LossSchema)
@blueprint.response(200, QualificationEndedSchema)
def end(loss: dict[str, Any]) -> dict[str, Any]:
    """End a qualification (資格喪失): which one, the date it was lost and why.

    The qualification must be one of the account's insurers'. (The number travels in the body, not
    the path, so that access logs never hold it.)"""
    return uploads.end_qualification_of(service(), g.principal, loss)


@blueprint.before_request
def _allow_large_uploads() -> None:
    if request.endpoint == "payer.upload":
        request.max_content_length = UPLOAD_BYTES
