"""Payer updates through the API: person records validated like ``eligsim registry import``,
written at once when few, or by a background job when many (the records wait in the database)."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from marshmallow import ValidationError
from sqlalchemy import Connection, select, update

from app.service.context import ServiceContext
from app.service.errors import ServiceError, field_error
from app.service.jobs import enqueue_or_undo
from app.service.models import PayerUpload
from payer_registry.clock import now_utc
from payer_registry.db import Registry
from payer_registry.exporter import to_json_line
from payer_registry.identifiers import IdentifierError, parse_insured_number
from payer_registry.models import table_of
from payer_registry.records import PERSON_RECORD, flatten_errors
from payer_registry.writer import RecordConflict, end_qualification, upsert_record

payer_uploads = table_of(PayerUpload)
MAX_DIRECT = 500
MAX_UPLOAD = 20_000


@dataclass(frozen=True, slots=True)
class UploadStatus:
    upload_id: str
    status: str  # queued, done, failed
    total: int
    written: int
    error: str | None


@dataclass(frozen=True)
class PayerUploadJob:
    """The job writing one stored upload."""

    name: ClassVar[str] = "payer_upload"
    upload_id: str

    def run(self, registry: Registry) -> None:
        process_upload(registry, self.upload_id)

    def give_up(self, registry: Registry) -> None:
        mark_failed(registry, self.upload_id)


def validated(raw_records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every record loaded with the import schema; all errors at once, by position and field."""
    records, errors = [], {}
    for position, raw in enumerate(raw_records):
        try:
            records.append(PERSON_RECORD.load(raw))
        except ValidationError as error:
            errors[str(position)] = dict(flatten_errors(error.messages))
    if errors:
        raise ServiceError(
            "VALIDATION_FAILED",
            "some records are invalid; nothing was written",
            {"records": errors},
        )
    return records


def write_now(ctx: ServiceContext, raw_records: list[dict[str, Any]]) -> dict[str, int]:
    """Register or update a few persons at once (all or nothing)."""
    if len(raw_records) > MAX_DIRECT:
        raise ServiceError(
            "TOO_MANY_RECORDS", f"at most {MAX_DIRECT} records here; use /payer/uploads"
        )
    records = validated(raw_records)
    try:
        with ctx.registry.begin() as conn:
            return {"written": write_records(conn, records)}
    except RecordConflict as error:
        raise ServiceError("RECORD_CONFLICT", str(error)) from None


def submit_upload(
    ctx: ServiceContext, payer_name: str, raw_records: list[dict[str, Any]]
) -> dict[str, Any]:
    """Store many records and queue the job that writes them."""
    records = validated(raw_records)
    with ctx.registry.begin() as conn:
        upload_id = store_upload(conn, payer_name, records)
    enqueue_or_undo(
        ctx.jobs, [PayerUploadJob(upload_id)], undo=lambda: mark_failed(ctx.registry, upload_id)
    )
    return {"upload_id": upload_id, "status": "queued", "total": len(records)}


def upload_view(ctx: ServiceContext, payer_name: str, upload_id: str) -> dict[str, Any]:
    with ctx.registry.connect() as conn:
        found = upload_status(conn, upload_id, payer_name)
    if found is None:
        raise ServiceError("NOT_FOUND", "no such upload")
    return asdict(found)


def end_qualification_of(ctx: ServiceContext, loss: dict[str, Any]) -> dict[str, Any]:
    """End a qualification (資格喪失): ``insured_number``, ``lost_on``, ``loss_reason``."""
    try:
        canonical = str(parse_insured_number(loss["insured_number"]))
    except IdentifierError as error:
        raise field_error("insured_number", str(error)) from None
    with ctx.registry.begin() as conn:
        try:
            end_qualification(conn, canonical, loss["lost_on"], loss["loss_reason"])
        except LookupError as error:
            raise ServiceError("NOT_FOUND", str(error)) from None
        except ValueError as error:
            raise field_error("lost_on", str(error)) from None
    return {**loss, "insured_number": canonical}


def write_records(conn: Connection, records: list[dict[str, Any]]) -> int:
    """Upsert validated records in the caller's transaction (all or nothing)."""
    for record in records:
        upsert_record(conn, record)
    return len(records)


def store_upload(conn: Connection, payer_name: str, records: list[dict[str, Any]]) -> str:
    upload_id = str(uuid.uuid4())
    conn.execute(
        payer_uploads.insert().values(
            id=upload_id,
            payer_name=payer_name,
            records="\n".join(to_json_line(record) for record in records),
            total=len(records),
            written=0,
            created_at=now_utc(),
        )
    )
    return upload_id


def process_upload(registry: Registry, upload_id: str) -> None:
    """The job: write the stored records in one transaction; running it again writes the same."""
    with registry.begin() as conn:
        row = conn.execute(select(payer_uploads).where(payer_uploads.c.id == upload_id)).first()
        if row is None or row.finished_at is not None:
            return
        records = [PERSON_RECORD.load(json.loads(line)) for line in row.records.splitlines()]
        written = write_records(conn, records)
        conn.execute(
            update(payer_uploads)
            .where(payer_uploads.c.id == upload_id)
            .values(written=written, finished_at=now_utc(), records="")
        )


def mark_failed(registry: Registry, upload_id: str) -> None:
    """The upload gave up: nothing was written, and the records it held are dropped."""
    with registry.begin() as conn:
        conn.execute(
            update(payer_uploads)
            .where(payer_uploads.c.id == upload_id)
            .values(
                error="the upload could not be written; nothing was changed",
                finished_at=now_utc(),
                records="",
            )
        )


def upload_status(conn: Connection, upload_id: str, payer_name: str) -> UploadStatus | None:
    row = conn.execute(
        select(payer_uploads).where(
            payer_uploads.c.id == upload_id, payer_uploads.c.payer_name == payer_name
        )
    ).first()
    if row is None:
        return None
    status = "failed" if row.error else ("done" if row.finished_at else "queued")
    return UploadStatus(upload_id, status, row.total, row.written, row.error)
