"""Payer updates: person records validated like ``eligsim registry import``, written at once when
few, or by a background job when many (the records wait in the database); and the operator's
``registry import`` itself.

A payer account writes the persons of its own insurers only, never a card link (a card is linked
where it is issued), and every write is audited: who, which person, what kind of change."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from marshmallow import ValidationError
from sqlalchemy import Connection, exists, select, update

from app.service import audit
from app.service.accounts import Principal, operator_name, payer_insurer_numbers
from app.service.audit import Action, Actor, Outcome
from app.service.context import ServiceContext
from app.service.errors import ServiceError, field_error
from app.service.jobs import enqueue_or_undo
from app.service.models import PayerUpload
from payer_registry import importer
from payer_registry.clock import now_utc
from payer_registry.db import Registry
from payer_registry.exporter import to_json_line
from payer_registry.identifiers import IdentifierError, parse_insured_number
from payer_registry.models import Qualification, table_of
from payer_registry.records import PERSON_RECORD, flatten_errors
from payer_registry.writer import RecordConflict, end_qualification, upsert_record

payer_uploads = table_of(PayerUpload)
qualifications = table_of(Qualification)
MAX_DIRECT = 500
MAX_UPLOAD = 20_000
NUMBERS_PER_QUERY = 5_000  # well below the bound parameters any supported database takes
CARD_LINKS_REFUSED = "payers cannot set card links: a card is linked where it is issued"


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
    """Every record loaded with the import schema, none with card links; all errors at once, by
    position and field."""
    records, errors = [], {}
    for position, raw in enumerate(raw_records):
        try:
            record = PERSON_RECORD.load(raw)
        except ValidationError as error:
            errors[str(position)] = dict(flatten_errors(error.messages))
            continue
        if record["card_links"]:
            errors[str(position)] = {"card_links": CARD_LINKS_REFUSED}
        records.append(record)
    if errors:
        raise ServiceError(
            "VALIDATION_FAILED",
            "some records are invalid; nothing was written",
            {"records": errors},
        )
    return records


def check_insurers(
    conn: Connection, insurers: frozenset[str], records: list[dict[str, Any]]
) -> None:
    """Refuse the whole write unless the payer account may write every record: each of its insured
    numbers belongs to one of ``insurers``, and so does every qualification the person it updates
    already holds (the record replaces them all)."""
    refused: dict[str, str] = {}
    for position, record in enumerate(records):
        foreign = sorted({parse_insured_number(n).insurer for n in _numbers(record)} - insurers)
        if foreign:
            refused[str(position)] = f"not an insurer of this payer account: {', '.join(foreign)}"
    if not refused:
        for position in _updating_beyond(conn, insurers, records):
            refused[str(position)] = (
                "the person this record updates also holds qualifications of other insurers"
            )
    if refused:
        raise ServiceError(
            "PAYER_INSURER_FORBIDDEN",
            "this payer account may not write some of these records; nothing was written",
            {"records": refused},
        )


def _updating_beyond(
    conn: Connection, insurers: frozenset[str], records: list[dict[str, Any]]
) -> list[int]:
    """Positions of the records that update a person holding a qualification of another insurer."""
    position_of = {number: at for at, record in enumerate(records) for number in _numbers(record)}
    numbers = list(position_of)
    held_elsewhere = qualifications.alias("held_elsewhere")
    beyond: set[int] = set()
    for start in range(0, len(numbers), NUMBERS_PER_QUERY):
        stmt = select(qualifications.c.insured_number).where(
            qualifications.c.insured_number.in_(numbers[start : start + NUMBERS_PER_QUERY]),
            exists().where(
                held_elsewhere.c.person_id == qualifications.c.person_id,
                held_elsewhere.c.insurer_number.not_in(insurers),
            ),
        )
        found: list[str] = list(conn.execute(stmt).scalars())
        beyond.update(position_of[number] for number in found)
    return sorted(beyond)


def _numbers(record: dict[str, Any]) -> list[str]:
    return [q["insured_number"] for q in record["qualifications"]]


def write_now(
    ctx: ServiceContext, payer: Principal, raw_records: list[dict[str, Any]]
) -> dict[str, int]:
    """Register or update a few persons at once (all or nothing)."""
    if len(raw_records) > MAX_DIRECT:
        raise ServiceError(
            "TOO_MANY_RECORDS", f"at most {MAX_DIRECT} records here; use /payer/uploads"
        )
    records = validated(raw_records)
    with _conflicts_refused(), ctx.registry.begin() as conn:
        check_insurers(conn, payer.insurers, records)
        written = write_records(conn, records, _payer_id(payer), Action.PAYER_RECORDS)
    return {"written": written}


def submit_upload(
    ctx: ServiceContext, payer: Principal, raw_records: list[dict[str, Any]]
) -> dict[str, Any]:
    """Store many records and queue the job that writes them, once the account may write them all."""
    records = validated(raw_records)
    with _conflicts_refused(), ctx.registry.begin() as conn:
        check_insurers(conn, payer.insurers, records)
        upload_id = store_upload(conn, _payer_id(payer), records)
    enqueue_or_undo(
        ctx.jobs, [PayerUploadJob(upload_id)], undo=lambda: mark_failed(ctx.registry, upload_id)
    )
    return {"upload_id": upload_id, "status": "queued", "total": len(records)}


def upload_view(ctx: ServiceContext, payer: Principal, upload_id: str) -> dict[str, Any]:
    """An upload's status, for the account that sent it only (another account's: not found)."""
    with ctx.registry.connect() as conn:
        found = upload_status(conn, upload_id, _payer_id(payer))
    if found is None:
        raise ServiceError("NOT_FOUND", "no such upload")
    return asdict(found)


def end_qualification_of(
    ctx: ServiceContext, payer: Principal, loss: dict[str, Any]
) -> dict[str, Any]:
    """End a qualification (資格喪失) of one of the account's insurers: ``insured_number``,
    ``lost_on``, ``loss_reason``. The insurer is checked before the number is looked up, so an
    account learns nothing about other insurers' numbers."""
    try:
        number = parse_insured_number(loss["insured_number"])
    except IdentifierError as error:
        raise field_error("insured_number", str(error)) from None
    if number.insurer not in payer.insurers:
        raise ServiceError(
            "PAYER_INSURER_FORBIDDEN",
            f"insurer {number.insurer} is not an insurer of this payer account; nothing was changed",
        )
    with ctx.registry.begin() as conn:
        try:
            person_id = end_qualification(conn, str(number), loss["lost_on"], loss["loss_reason"])
        except LookupError as error:
            raise ServiceError("NOT_FOUND", str(error)) from None
        except ValueError as error:
            raise field_error("lost_on", str(error)) from None
        _audit_payer(conn, _payer_id(payer), Action.QUALIFICATION_LOSS, Outcome.ENDED, person_id)
    return {**loss, "insured_number": str(number)}


def write_records(
    conn: Connection, records: list[dict[str, Any]], payer_id: int, action: Action
) -> int:
    """Upsert validated records in the caller's transaction (all or nothing), leaving the persons'
    card links as they are; one audit entry per person."""
    for record in records:
        person_id = upsert_record(conn, record, card_links=False)
        _audit_payer(conn, payer_id, action, Outcome.WRITTEN, person_id)
    return len(records)


def _audit_payer(
    conn: Connection, payer_id: int, action: Action, outcome: Outcome, person_id: int
) -> None:
    """A payer's write, in the audit log: the account's id stands where a staff id would."""
    audit.append(
        conn,
        actor=Actor.PAYER,
        action=action,
        outcome=outcome,
        staff_id=f"payer:{payer_id}",
        person_id=person_id,
    )


def _payer_id(payer: Principal) -> int:
    assert payer.payer_id is not None, "the payer endpoints take payer accounts' keys only"
    return payer.payer_id


@contextmanager
def _conflicts_refused() -> Iterator[None]:
    try:
        yield
    except RecordConflict as error:
        raise ServiceError("RECORD_CONFLICT", str(error)) from None


def store_upload(conn: Connection, payer_id: int, records: list[dict[str, Any]]) -> str:
    upload_id = str(uuid.uuid4())
    conn.execute(
        payer_uploads.insert().values(
            id=upload_id,
            payer_id=payer_id,
            records="\n".join(to_json_line(record) for record in records),
            total=len(records),
            written=0,
            created_at=now_utc(),
        )
    )
    return upload_id


def process_upload(registry: Registry, upload_id: str) -> None:
    """The job: write the stored records in one transaction; running it again writes the same.
    The account's insurers are checked again, as they are when the job runs."""
    with registry.begin() as conn:
        row = conn.execute(select(payer_uploads).where(payer_uploads.c.id == upload_id)).first()
        if row is None or row.finished_at is not None:
            return
        records = [PERSON_RECORD.load(json.loads(line)) for line in row.records.splitlines()]
        try:
            check_insurers(conn, payer_insurer_numbers(conn, row.payer_id), records)
        except ServiceError as refusal:
            _finish(conn, upload_id, error=refusal.message)
            return
        written = write_records(conn, records, row.payer_id, Action.PAYER_UPLOAD)
        _finish(conn, upload_id, written=written)


def mark_failed(registry: Registry, upload_id: str) -> None:
    """The upload gave up: nothing was written, and the records it held are dropped."""
    with registry.begin() as conn:
        _finish(conn, upload_id, error="the upload could not be written; nothing was changed")


def _finish(conn: Connection, upload_id: str, written: int = 0, error: str | None = None) -> None:
    conn.execute(
        update(payer_uploads)
        .where(payer_uploads.c.id == upload_id)
        .values(written=written, error=error, finished_at=now_utc(), records="")
    )


def upload_status(conn: Connection, upload_id: str, payer_id: int) -> UploadStatus | None:
    row = conn.execute(
        select(payer_uploads).where(
            payer_uploads.c.id == upload_id, payer_uploads.c.payer_id == payer_id
        )
    ).first()
    if row is None:
        return None
    status = "failed" if row.error else ("done" if row.finished_at else "queued")
    return UploadStatus(upload_id, status, row.total, row.written, row.error)


def import_registry_file(
    registry: Registry, path: Path, encoding: str | None = None, skip_invalid: bool = False
) -> importer.ImportResult:
    """``eligsim registry import``: the operator's import, card links included (so an export
    imports back whole), with one audit entry per person written, naming the operator."""
    operator = operator_name()

    def audited(conn: Connection, person_id: int) -> None:
        audit.append(
            conn,
            actor=Actor.OPERATOR,
            action=Action.REGISTRY_IMPORT,
            outcome=Outcome.WRITTEN,
            staff_id=operator,
            person_id=person_id,
        )

    return importer.import_file(registry, path, encoding, skip_invalid, on_written=audited)
