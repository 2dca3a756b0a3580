"""Batch pre-check (一括照会): many eligibility inquiries under one reception number (受付番号).

Inquiries and results live in the registry database, never in the job queue: a job carries only the
reception number and a range of positions, and processing a range again skips what is already done,
so a job that is retried after its worker died loses nothing and repeats nothing."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, case, delete, func, select, update

from payer_registry.access import audit
from payer_registry.access.models import Batch, BatchItem
from payer_registry.clock import as_utc, now_utc
from payer_registry.confirmation import Inquiry, confirm_by_numbers
from payer_registry.db import Registry
from payer_registry.eligibility import Validity, today_in_japan
from payer_registry.presenting import confirmation_dict, jsonable

batches = Batch.__table__
batch_items = BatchItem.__table__
CHUNK = 500  # inquiries per job
COMMIT_EVERY = 100  # results written per transaction, so progress shows while a job runs
NORMAL = {Validity.VALID, Validity.INVALID, Validity.INVALID_NEW_EXISTS}


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


def create_batch(
    conn: Connection,
    institution_code: str,
    inquiries: list[dict],
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
            for position, inquiry in pending:
                _answer(conn, batch, position, json.loads(inquiry), at)
            answered += len(pending)


def _answer(conn: Connection, batch, position: int, inquiry: dict, at: dt.date) -> None:
    birth = dt.date.fromisoformat(inquiry["birth_date"])
    result = confirm_by_numbers(
        conn,
        Inquiry(
            inquiry["insurer_number"],
            inquiry["symbol"],
            inquiry["number"],
            inquiry["branch"],
            birth,
        ),
        at,
    )
    eligibility = confirmation_dict(result)
    if not inquiry.get("limit_certificate_consent"):
        eligibility.pop("limit_certificate", None)
    eligibility.pop("specific_diseases", None)
    written = conn.execute(
        update(batch_items)
        .where(
            batch_items.c.reception_number == batch.reception_number,
            batch_items.c.position == position,
            batch_items.c.result.is_(None),
        )
        .values(
            result=json.dumps(jsonable(eligibility), ensure_ascii=False),
            normal=result.validity in NORMAL,
        )
    )
    if written.rowcount != 1:
        return  # another worker answered it first (a retried job overlapping a stray one)
    audit.append(
        conn,
        actor="institution",
        action="batch_check",
        outcome=str(result.validity),
        institution_code=batch.institution_code,
        person_id=result.person.id if result.person else None,
    )


def mark_failed(conn: Connection, reception_number: str) -> None:
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
    processed, normal = conn.execute(
        select(
            func.count(batch_items.c.result),
            func.coalesce(func.sum(case((batch_items.c.normal, 1), else_=0)), 0),
        ).where(batch_items.c.reception_number == reception_number)
    ).one()
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


def batch_results(conn: Connection, reception_number: str) -> list[dict]:
    """One entry per inquiry, in submission order; ``eligibility`` is None until it is answered."""
    rows = conn.execute(
        select(batch_items.c.position, batch_items.c.result)
        .where(batch_items.c.reception_number == reception_number)
        .order_by(batch_items.c.position)
    )
    return [
        {"position": position, "eligibility": json.loads(result) if result else None}
        for position, result in rows
    ]


def purge_expired(conn: Connection) -> int:
    """Delete batches past their keeping time (their items go with them)."""
    expired = select(batches.c.reception_number).where(batches.c.expires_at <= now_utc())
    conn.execute(delete(batch_items).where(batch_items.c.reception_number.in_(expired)))
    return conn.execute(delete(batches).where(batches.c.expires_at <= now_utc())).rowcount
