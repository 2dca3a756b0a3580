"""Batch pre-check (一括照会): many eligibility inquiries under one reception number (受付番号).

Inquiries and results live in the registry database, never in the job queue: a job carries only the
reception number and a range of positions, and processing a range again skips what is already done,
so a job that is retried after its worker died loses nothing and repeats nothing. One line that
cannot be answered gets an error result; it never stops the others."""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from sqlalchemy import Connection, Row, case, delete, func, select, update
from sqlalchemy.exc import DBAPIError

from app.service import audit, consent
from app.service.audit import Action, Actor, AnyOutcome, Outcome
from app.service.checks import NumbersCheck
from app.service.context import ServiceContext
from app.service.errors import ServiceError
from app.service.jobs import JobSpec, enqueue_or_undo
from app.service.models import Batch, BatchItem
from app.service.uploads import unfinished_uploads
from payer_registry.clock import as_utc, now_utc
from payer_registry.confirmation import confirm_by_numbers
from payer_registry.db import Registry
from payer_registry.eligibility import Validity, today_in_japan
from payer_registry.models import table_of
from payer_registry.presenting import confirmation_dict, jsonable

batches = table_of(Batch)
batch_items = table_of(BatchItem)
CHUNK = 500  # inquiries per job
COMMIT_EVERY = 100  # results written per transaction, so progress shows while a job runs
NORMAL = {Validity.VALID, Validity.INVALID, Validity.INVALID_NEW_EXISTS}
MAX_INQUIRIES = 20_000
BIRTH_DATES_PER_NUMBER = 3  # more, for one insured number in one batch, is guessing a birth date
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchRangeJob:
    """The job answering one range of a batch's inquiries."""

    name: ClassVar[str] = "batch_range"
    reception_number: str
    start: int
    end: int

    def run(self, registry: Registry) -> int:
        return process_range(registry, self.reception_number, self.start, self.end)

    def give_up(self, registry: Registry) -> None:
        mark_failed(registry, self.reception_number)


@dataclass(frozen=True, slots=True)
class BatchStatus:
    reception_number: str
    status: str  # queued, running, done, failed
    total: int
    processed: int
    normal: int
    error: int
    created_at: dt.datetime
    expires_at: dt.datetime


def submit_batch(
    ctx: ServiceContext,
    institution_code: str,
    inquiries: list[dict[str, Any]],
    confirmation_date: dt.date | None,
) -> dict[str, Any]:
    """Store the inquiries (eligibility-check fields) and queue their jobs: the reception number."""
    refuse_birth_date_probing(inquiries)
    stored = [jsonable(inquiry) for inquiry in inquiries]
    keep_for = dt.timedelta(hours=ctx.settings.batch_result_ttl_hours)
    with ctx.registry.begin() as conn:
        number = create_batch(conn, institution_code, stored, confirmation_date, keep_for)
    enqueue_or_undo(
        ctx.jobs,
        [BatchRangeJob(number, start, end) for start, end in chunks(len(stored))],
        undo=lambda: _discard(ctx.registry, number),
    )
    return {"reception_number": number, "status": "queued", "total": len(stored)}


def refuse_birth_date_probing(inquiries: Iterable[dict[str, Any]]) -> None:
    """Refuse a batch that tries many birth dates for one insured number: an answer names the person
    and confirms the birth date, so such a batch finds a birth date for the cost of one request. A
    family shares a card number but not a branch, so different branches never count together."""
    birth_dates: defaultdict[str, set[Any]] = defaultdict(set)
    for inquiry in inquiries:
        birth_dates[_insured_number(inquiry)].add(inquiry["birth_date"])
    probed = sorted(
        number for number, dates in birth_dates.items() if len(dates) > BIRTH_DATES_PER_NUMBER
    )
    if probed:
        raise ServiceError(
            "BATCH_BIRTH_DATE_PROBING",
            f"a batch may try at most {BIRTH_DATES_PER_NUMBER} birth dates for one insured number",
            {"insured_numbers": probed},
        )


def _insured_number(inquiry: dict[str, Any]) -> str:
    """The inquiry's insured number, written canonically (an empty branch when it has none)."""
    parts = (inquiry["insurer_number"], inquiry.get("symbol", ""), inquiry["number"])
    return ":".join((*parts, inquiry.get("branch") or ""))


def _discard(registry: Registry, number: str) -> None:
    with registry.begin() as conn:
        discard(conn, number)


def batch_view(ctx: ServiceContext, institution_code: str, reception_number: str) -> dict[str, Any]:
    """Progress counts and one result per inquiry (None until answered)."""
    with ctx.registry.connect() as conn:
        found = batch_status(conn, reception_number, institution_code)
        if found is None:
            raise ServiceError("NOT_FOUND", "no such batch (or its results have expired)")
        return {**asdict(found), "results": batch_results(conn, reception_number)}


def create_batch(
    conn: Connection,
    institution_code: str,
    inquiries: list[Any],
    confirmation_date: dt.date | None,
    keep_for: dt.timedelta,
) -> str:
    """Store the inquiries (JSON-ready dicts) and return the new reception number."""
    purge_expired(conn)
    now = now_utc()
    number = f"{now:%Y%m%d}-{secrets.token_hex(5).upper()}"
    conn.execute(
        batches.insert().values(
            reception_number=number,
            institution_code=institution_code,
            total=len(inquiries),
            confirmation_date=confirmation_date,
            created_at=now,
            expires_at=now + keep_for,
        )
    )
    rows = [
        {"reception_number": number, "position": i, "inquiry": json.dumps(q, ensure_ascii=False)}
        for i, q in enumerate(inquiries)
    ]
    conn.execute(batch_items.insert(), rows)
    return number


def chunks(total: int) -> list[tuple[int, int]]:
    return [(start, min(start + CHUNK, total)) for start in range(0, total, CHUNK)]


def process_range(registry: Registry, reception_number: str, start: int, end: int) -> int:
    """Answer the unanswered inquiries in positions [start, end); returns how many were answered."""
    answered = 0
    while True:
        with registry.begin() as conn:
            batch = conn.execute(
                select(batches).where(batches.c.reception_number == reception_number)
            ).first()
            if batch is None:
                raise LookupError(
                    f"batch {reception_number} is not in this worker's registry: "
                    "is its DATABASE_URL the service's?"
                )
            pending = conn.execute(
                select(batch_items.c.position, batch_items.c.inquiry)
                .where(
                    batch_items.c.reception_number == reception_number,
                    batch_items.c.position >= start,
                    batch_items.c.position < end,
                    batch_items.c.result.is_(None),
                )
                .order_by(batch_items.c.position)
                .limit(COMMIT_EVERY)
            ).all()
            if not pending:
                return answered
            at = batch.confirmation_date or today_in_japan()
            for item in pending:
                _store(conn, batch, item.position, _answer_line(conn, batch, item, at))
            answered += len(pending)


@dataclass(frozen=True, slots=True)
class LineAnswer:
    """What one line's result holds (its eligibility, or ``{"error": ...}``) and its audit entry."""

    result: object  # JSON-ready
    normal: bool
    outcome: AnyOutcome
    person_id: int | None = None


LINE_FAILED = LineAnswer(
    {"error": {"code": "INQUIRY_FAILED", "message": "this inquiry could not be answered"}},
    normal=False,
    outcome=Outcome.FAILED,
)


def _answer_line(conn: Connection, batch: Row[Any], item: Row[Any], at: dt.date) -> LineAnswer:
    """The line's answer, or an error result when the line cannot be answered (an unreadable inquiry,
    a person's record that confirmation cannot use): one bad line must not stop the batch, as every
    retry of its job would fail the same way. The log says which line failed and why, for whoever
    repairs the record. A failing database still fails the job, so that it is retried."""
    try:
        return _answer(conn, json.loads(item.inquiry), at)
    except DBAPIError:
        raise
    except Exception:
        log.exception("batch %s: line %d cannot be answered", batch.reception_number, item.position)
        return LINE_FAILED


def _answer(conn: Connection, inquiry: dict[str, Any], at: dt.date) -> LineAnswer:
    check = NumbersCheck.from_request(
        inquiry | {"birth_date": dt.date.fromisoformat(inquiry["birth_date"])}
    )
    result = confirm_by_numbers(conn, check.inquiry, at)
    consented = consent.without_card(check.limit_certificate_consent)
    eligibility = consent.visible(confirmation_dict(result), consented)
    return LineAnswer(
        jsonable(eligibility),
        normal=result.validity in NORMAL,
        outcome=result.validity,
        person_id=result.person.id if result.person else None,
    )


def _store(conn: Connection, batch: Row[Any], position: int, answer: LineAnswer) -> None:
    written = conn.execute(
        update(batch_items)
        .where(
            batch_items.c.reception_number == batch.reception_number,
            batch_items.c.position == position,
            batch_items.c.result.is_(None),
        )
        .values(result=json.dumps(answer.result, ensure_ascii=False), normal=answer.normal)
    )
    if written.rowcount != 1:
        return  # another worker answered it first (a retried job overlapping a stray one)
    audit.append(
        conn,
        actor=Actor.INSTITUTION,
        action=Action.BATCH_CHECK,
        outcome=answer.outcome,
        institution_code=batch.institution_code,
        person_id=answer.person_id,
    )


def mark_failed(registry: Registry, reception_number: str) -> None:
    """Every retry of a range failed: the batch ends ``failed`` (its answers so far stay)."""
    with registry.begin() as conn:
        conn.execute(
            update(batches)
            .where(batches.c.reception_number == reception_number)
            .values(failed_at=now_utc())
        )


def discard(conn: Connection, reception_number: str) -> None:
    conn.execute(delete(batches).where(batches.c.reception_number == reception_number))


def batch_status(
    conn: Connection, reception_number: str, institution_code: str
) -> BatchStatus | None:
    """The batch's progress, or None when unknown, expired or another institution's."""
    batch = conn.execute(
        select(batches).where(
            batches.c.reception_number == reception_number,
            batches.c.institution_code == institution_code,
        )
    ).first()
    if batch is None or as_utc(batch.expires_at) <= now_utc():
        return None
    counts = conn.execute(
        select(
            func.count(batch_items.c.result),
            func.coalesce(func.sum(case((batch_items.c.normal, 1), else_=0)), 0),
        ).where(batch_items.c.reception_number == reception_number)
    ).one()
    processed, normal = int(counts[0]), int(counts[1])
    if batch.failed_at is not None:
        status = "failed"
    elif processed == batch.total:
        status = "done"
    else:
        status = "running" if processed else "queued"
    return BatchStatus(
        reception_number,
        status,
        batch.total,
        processed,
        normal,
        processed - normal,
        as_utc(batch.created_at),
        as_utc(batch.expires_at),
    )


def batch_results(conn: Connection, reception_number: str) -> list[dict[str, Any]]:
    """One entry per inquiry, in submission order: its position, the inquiry as stored, and its
    ``eligibility`` or its ``error`` (both None until it is answered)."""
    rows = conn.execute(
        select(batch_items.c.position, batch_items.c.inquiry, batch_items.c.result)
        .where(batch_items.c.reception_number == reception_number)
        .order_by(batch_items.c.position)
    )
    return [
        {"position": row.position, "inquiry": _stored(row.inquiry), **_outcome(row.result)}
        for row in rows
    ]


def _outcome(result: str | None) -> dict[str, Any]:
    """A stored result as ``eligibility`` and ``error`` (an eligibility never has an "error" key)."""
    answer = json.loads(result) if result else {}
    if "error" in answer:
        return {"eligibility": None, "error": answer["error"]}
    return {"eligibility": answer or None, "error": None}


def _stored(text: str) -> Any:
    """A stored inquiry, or None when it cannot be read (its line then ends in error)."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def resume_unfinished(ctx: ServiceContext, institution_code: str | None = None) -> int:
    """Queue again the unanswered ranges of the live batches of one institution, or of all (after a
    restart of a process whose in-process jobs died with it); answering skips what is done, so
    several processes resuming at once repeat nothing. For all institutions, the unfinished payer
    uploads too (their writes take turns and go on where they stopped). How many jobs."""
    now = now_utc()
    unfinished = [
        batches.c.failed_at.is_(None),
        batches.c.expires_at > now,
        batch_items.c.result.is_(None),
    ]
    if institution_code is not None:
        unfinished.append(batches.c.institution_code == institution_code)
    with ctx.registry.connect() as conn:
        pending = conn.execute(
            select(
                batches.c.reception_number,
                batches.c.total,
                func.min(batch_items.c.position).label("first"),
            )
            .join(batch_items, batches.c.reception_number == batch_items.c.reception_number)
            .where(*unfinished)
            .group_by(batches.c.reception_number, batches.c.total)
        ).all()
    jobs: list[JobSpec] = [
        BatchRangeJob(row.reception_number, start, end)
        for row in pending
        for start, end in chunks(row.total)
        if end > row.first
    ]
    if institution_code is None:
        jobs += unfinished_uploads(ctx.registry)
    for job in jobs:
        ctx.jobs.enqueue(job)
    return len(jobs)


def purge_expired(conn: Connection) -> int:
    """Delete batches past their keeping time (their items go with them)."""
    expired = select(batches.c.reception_number).where(batches.c.expires_at <= now_utc())
    conn.execute(delete(batch_items).where(batch_items.c.reception_number.in_(expired)))
    return conn.execute(delete(batches).where(batches.c.expires_at <= now_utc())).rowcount
