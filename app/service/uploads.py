"""Payer updates: person records validated like ``eligsim registry import``, written at once when
few, or by a background job when many (the records wait in the database; the job writes them in
short transactions, ``payer_registry.staging``); and the operator's ``registry import`` itself.

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
from app.service.audit import Action, Actor, Entry, Outcome
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
from payer_registry.staging import (
    Pending,
    StagedJournal,
    UnfinishedImport,
    close_journal,
    journal_position,
    open_journal,
    unfinished_imports,
    write_in_chunks,
)
from payer_registry.writer import (
    NUMBERS_PER_QUERY,
    Incoming,
    RecordConflict,
    end_qualification,
    persons_holding,
    persons_written,
    write_records,
)

payer_uploads = table_of(PayerUpload)
qualifications = table_of(Qualification)
MAX_DIRECT = 500
MAX_UPLOAD = 20_000
CARD_LINKS_REFUSED = "payers cannot set card links: a card is linked where it is issued"


@dataclass(frozen=True, slots=True)
class UploadStatus:
    upload_id: str
    status: str  # queued (``written`` so far), done, failed
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
        outcomes = write_records(conn, [Incoming(record) for record in records], card_links=False)
        refused = [outcome for outcome in outcomes if isinstance(outcome, RecordConflict)]
        if refused:
            raise refused[0]
        _audit_payer(conn, _payer_id(payer), Action.PAYER_RECORDS, persons_written(outcomes))
    return {"written": len(records)}


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
        _audit_payer(conn, _payer_id(payer), Action.QUALIFICATION_LOSS, [person_id], Outcome.ENDED)
    return {**loss, "insured_number": str(number)}


def _audit_payer(
    conn: Connection,
    payer_id: int,
    action: Action,
    person_ids: list[int],
    outcome: Outcome = Outcome.WRITTEN,
) -> None:
    """A payer's write, in the audit log, one entry per person (one append for them all): the
    account's id stands where a staff id would."""
    staff_id = f"payer:{payer_id}"
    entries = [
        Entry(Actor.PAYER, action, outcome, staff_id=staff_id, person_id=person_id)
        for person_id in person_ids
    ]
    audit.append_all(conn, entries)


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


@dataclass(frozen=True)
class UploadJournal(StagedJournal):
    """An upload's journal: its position, and the records read from the upload's row."""

    records: list[dict[str, Any]]

    def pending(self, conn: Connection, start: int, count: int) -> Iterator[Pending]:
        for position in range(start, min(start + count, len(self.records))):
            yield Pending(position, position, self.records[position])


def process_upload(registry: Registry, upload_id: str) -> None:
    """The job: write the stored records in short transactions, ``written`` counting them; running
    it again goes on where it stopped. Before the first record the account's insurers are checked
    again, as they are when the job runs, and the records' insured numbers against the registry."""
    with registry.connect() as conn:
        row = conn.execute(select(payer_uploads).where(payer_uploads.c.id == upload_id)).first()
        started = journal_position(conn, upload_id) is not None
    if row is None or row.finished_at is not None:
        return
    records = [PERSON_RECORD.load(json.loads(line)) for line in row.records.splitlines()]
    if not started:
        try:
            with registry.connect() as conn:
                check_insurers(conn, payer_insurer_numbers(conn, row.payer_id), records)
                refuse_conflicts(conn, records)
        except ServiceError as refusal:
            with registry.begin() as conn:
                _finish(conn, upload_id, error=refusal.message)
            return
        open_journal(registry, upload_id, len(records))
    refused: list[int] = []

    def write(conn: Connection, chunk: list[Pending]) -> None:
        incoming = [Incoming(item.record) for item in chunk]
        outcomes = write_records(conn, incoming, card_links=False)
        for item, outcome in zip(chunk, outcomes, strict=True):
            if isinstance(outcome, RecordConflict):
                refused.append(item.position)
        _audit_payer(conn, row.payer_id, Action.PAYER_UPLOAD, persons_written(outcomes))

    write_in_chunks(registry, UploadJournal(upload_id, records), write)
    with registry.begin() as conn:
        _finish(conn, upload_id, written=len(records) - len(refused), error=_left_out(refused))
        close_journal(conn, upload_id)


def refuse_conflicts(conn: Connection, records: list[dict[str, Any]]) -> None:
    """Refuse the whole upload when a record's insured numbers belong to several registered
    persons (the record cannot say which one it updates)."""
    holders = persons_holding(conn, [number for record in records for number in _numbers(record)])
    conflicting = {
        str(position): "these insured numbers belong to different registered persons"
        for position, record in enumerate(records)
        if len({holders[n] for n in _numbers(record) if n in holders}) > 1
    }
    if conflicting:
        raise ServiceError(
            "RECORD_CONFLICT",
            "some records' insured numbers belong to different registered persons; "
            "nothing was written",
            {"records": conflicting},
        )


def _left_out(positions: list[int]) -> str | None:
    if not positions:
        return None
    return (
        f"{len(positions)} record(s) not written: their insured numbers came to belong to other "
        f"persons while the upload waited (positions {', '.join(map(str, positions))})"
    )


def mark_failed(registry: Registry, upload_id: str) -> None:
    """The upload gave up: the records it held are dropped (those written before stay written)."""
    with registry.begin() as conn:
        written = journal_position(conn, upload_id)
        error = (
            f"the upload stopped after {written} records were written"
            if written
            else "the upload could not be written; nothing was changed"
        )
        _finish(conn, upload_id, written=written, error=error)
        close_journal(conn, upload_id)


def unfinished_uploads(registry: Registry) -> list[PayerUploadJob]:
    """The jobs of the uploads not finished (their process stopped); running one again goes on
    where it stopped, and two runs of one upload take turns."""
    with registry.connect() as conn:
        found: list[str] = list(
            conn.execute(
                select(payer_uploads.c.id).where(payer_uploads.c.finished_at.is_(None))
            ).scalars()
        )
        return [PayerUploadJob(upload_id) for upload_id in found]


def _finish(
    conn: Connection, upload_id: str, written: int | None = None, error: str | None = None
) -> None:
    values: dict[str, Any] = {"error": error, "finished_at": now_utc(), "records": ""}
    if written is not None:
        values["written"] = written
    conn.execute(update(payer_uploads).where(payer_uploads.c.id == upload_id).values(**values))


def upload_status(conn: Connection, upload_id: str, payer_id: int) -> UploadStatus | None:
    row = conn.execute(
        select(payer_uploads).where(
            payer_uploads.c.id == upload_id, payer_uploads.c.payer_id == payer_id
        )
    ).first()
    if row is None:
        return None
    status = "failed" if row.error else ("done" if row.finished_at else "queued")
    written = journal_position(conn, upload_id)  # while it writes
    return UploadStatus(upload_id, status, row.total, written or row.written, row.error)


def import_registry_file(
    registry: Registry,
    path: Path,
    encoding: str | None = None,
    skip_invalid: bool = False,
    progress: importer.Progress | None = None,
) -> importer.ImportResult:
    """``eligsim registry import``: the operator's import, card links included (so an export
    imports back whole), with one audit entry per person written, naming the operator."""
    operator = operator_name()
    audited = _operator_audit(operator)
    return importer.import_file(registry, path, encoding, skip_invalid, operator, progress, audited)


def complete_imports(
    registry: Registry, progress: importer.Progress | None = None
) -> list[tuple[UnfinishedImport, importer.ImportResult]]:
    """Complete the imports a stopped process left past their commit point, each audited under the
    operator who started it (and drop those it left while staging)."""
    return [
        (found, importer.complete_import(registry, found, _operator_audit(found.author), progress))
        for found in unfinished_imports(registry)
    ]


def _operator_audit(operator: str) -> importer.OnWritten:
    def audited(conn: Connection, person_ids: list[int]) -> None:
        entries = [
            Entry(
                Actor.OPERATOR,
                Action.REGISTRY_IMPORT,
                Outcome.WRITTEN,
                staff_id=operator,
                person_id=person_id,
            )
            for person_id in person_ids
        ]
        audit.append_all(conn, entries)

    return audited
