"""Payer updates through the API: person records validated like ``eligsim registry import``,
written at once when few, or by a background job when many (the records wait in the registry)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, select, update

from payer_registry.access.models import PayerUpload
from payer_registry.clock import now_utc
from payer_registry.db import Registry
from payer_registry.exporter import to_json_line
from payer_registry.records import PERSON_RECORD
from payer_registry.writer import upsert_record

payer_uploads = PayerUpload.__table__


@dataclass(frozen=True, slots=True)
class UploadStatus:
    upload_id: str
    status: str  # queued, done, failed
    total: int
    written: int
    error: str | None


def write_records(conn: Connection, records: list[dict]) -> int:
    """Upsert validated records in the caller's transaction (all or nothing)."""
    for record in records:
        upsert_record(conn, record)
    return len(records)


def store_upload(conn: Connection, payer_name: str, records: list[dict]) -> str:
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
