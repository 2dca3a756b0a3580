"""Payer endpoints: register, update and end qualifications, validated as ``registry import`` is."""

from __future__ import annotations

import dataclasses

from flask import g, request
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate

from app.auth import authenticated
from app.errors import ApiError
from app.extensions import enqueue_or_refuse, registry
from app.schemas import StrictSchema
from payer_registry import uploads
from payer_registry.identifiers import IdentifierError, parse_insured_number
from payer_registry.records import LOSS_REASONS, PERSON_RECORD, flatten_errors
from payer_registry.writer import RecordConflict, end_qualification

blueprint = Blueprint("payer", __name__, url_prefix="/api/v1/payer", description="Payer updates")
MAX_DIRECT = 500
MAX_UPLOAD = 20_000
UPLOAD_BYTES = 64 << 20


class RecordsSchema(StrictSchema):
    records = fields.List(
        fields.Dict(),
        required=True,
        validate=validate.Length(min=1, max=MAX_UPLOAD),
        metadata={"description": "person records in the format of `eligsim registry export`"},
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
    lost_on = fields.Date(required=True)
    loss_reason = fields.String(required=True, validate=validate.OneOf(LOSS_REASONS))


class QualificationEndedSchema(Schema):
    insured_number = fields.String()
    lost_on = fields.Date()
    loss_reason = fields.String()


def _validated(raw_records: list[dict]) -> list[dict]:
    """Every record loaded with the import schema; all errors at once, by position and field."""
    records, errors = [], {}
    for position, raw in enumerate(raw_records):
        try:
            records.append(PERSON_RECORD.load(raw))
        except ValidationError as error:
            errors[str(position)] = dict(flatten_errors(error.messages))
    if errors:
        raise ApiError(
            "VALIDATION_FAILED",
            "some records are invalid; nothing was written",
            {"records": errors},
        )
    return records


@blueprint.route("/records", methods=["POST"])
@authenticated("payer")
@blueprint.arguments(RecordsSchema)
@blueprint.response(200, WrittenSchema)
def write(body: dict) -> dict:
    """Register or update up to 500 persons at once (upsert by individualized insured number)."""
    if len(body["records"]) > MAX_DIRECT:
        raise ApiError("TOO_MANY_RECORDS", f"at most {MAX_DIRECT} records here; use /payer/uploads")
    records = _validated(body["records"])
    try:
        with registry().begin() as conn:
            return {"written": uploads.write_records(conn, records)}
    except RecordConflict as error:
        raise ApiError("RECORD_CONFLICT", str(error)) from None


@blueprint.route("/uploads", methods=["POST"])
@authenticated("payer")
@blueprint.arguments(RecordsSchema)
@blueprint.response(202, UploadAcceptedSchema)
def upload(body: dict) -> dict:
    """Register or update up to 20,000 persons in the background; poll the upload for its status."""
    records = _validated(body["records"])
    with registry().begin() as conn:
        upload_id = uploads.store_upload(conn, g.principal.name, records)
    enqueue_or_refuse(
        [("payer_upload", upload_id)], undo=lambda: uploads.mark_failed(registry(), upload_id)
    )
    return {"upload_id": upload_id, "status": "queued", "total": len(records)}


@blueprint.route("/uploads/<upload_id>")
@authenticated("payer")
@blueprint.response(200, UploadStatusSchema)
def upload_status(upload_id: str) -> dict:
    """queued, done (with how many were written) or failed (nothing written)."""
    with registry().connect() as conn:
        found = uploads.upload_status(conn, upload_id, g.principal.name)
    if found is None:
        raise ApiError("NOT_FOUND", "no such upload")
    return dataclasses.asdict(found)


@blueprint.route("/qualification-losses", methods=["POST"])
@authenticated("payer")
@blueprint.arguments(LossSchema)
@blueprint.response(200, QualificationEndedSchema)
def end(loss: dict) -> dict:
    """End a qualification (資格喪失): which one, the date it was lost and why. (The number travels
    in the body, not the path, so that access logs never hold it.)"""
    try:
        canonical = str(parse_insured_number(loss["insured_number"]))
    except IdentifierError as error:
        raise ApiError(
            "VALIDATION_FAILED", str(error), {"json": {"insured_number": [str(error)]}}
        ) from None
    with registry().begin() as conn:
        try:
            end_qualification(conn, canonical, loss["lost_on"], loss["loss_reason"])
        except LookupError as error:
            raise ApiError("NOT_FOUND", str(error)) from None
        except ValueError as error:
            raise ApiError(
                "VALIDATION_FAILED", str(error), {"json": {"lost_on": [str(error)]}}
            ) from None
    return {**loss, "insured_number": canonical}


@blueprint.before_request
def _allow_large_uploads() -> None:
    if request.endpoint == "payer.upload":
        request.max_content_length = UPLOAD_BYTES
