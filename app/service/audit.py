"""The append-only audit log: every check, consent, view and refusal, chained by SHA-256 digests.

Each entry's digest covers its own content and the previous entry's digest, so changing, removing or
reordering any entry breaks every digest after it; ``verify_chain`` finds the first such entry."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from app.service.models import AuditEntry, AuditHead
from card_reader.verify import ResultCode
from payer_registry.clock import as_utc, now_utc
from payer_registry.eligibility import Validity
from payer_registry.models import table_of

audit_log = table_of(AuditEntry)
audit_head = table_of(AuditHead)
CONTENT = (
    "seq",
    "at",
    "actor",
    "institution_code",
    "staff_id",
    "person_id",
    "action",
    "category",
    "visit_id",
    "consent_id",
    "outcome",
)


class Actor(StrEnum):
    INSTITUTION = "institution"
    PATIENT = "patient"
    PAYER = "payer"
    OPERATOR = "operator"


class Action(StrEnum):
    CARD_VERIFICATION = "card_verification"
    CONSENT = "consent"
    ELIGIBILITY_CHECK = "eligibility_check"
    BATCH_CHECK = "batch_check"
    VIEW = "view"
    PAYER_RECORDS = "payer_records"
    PAYER_UPLOAD = "payer_upload"
    QUALIFICATION_LOSS = "qualification_loss"
    REGISTRY_IMPORT = "registry_import"
    CARD_LINK = "card_link"


class Outcome(StrEnum):
    """Outcomes other than an eligibility result (``Validity``) or a card refusal (``ResultCode``)."""

    GIVEN = "given"
    DECLINED = "declined"
    SHOWN = "shown"
    REFUSED_EXPIRED = "refused_expired"
    REFUSED_NONE = "refused_none"
    CARD_NOT_LINKED = "CARD_NOT_LINKED"
    FAILED = "failed"
    WRITTEN = "written"
    ENDED = "ended"
    LINKED = "linked"
    RENEWED = "renewed"
    REVOKED = "revoked"


AnyOutcome = Outcome | Validity | ResultCode

_BUMP_HEAD = (
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(seq=audit_head.c.seq + 1)
    .returning(audit_head.c.seq, audit_head.c.digest)
)
_INSERT = audit_log.insert()
_SET_HEAD_DIGEST = (
    update(audit_head).where(audit_head.c.id == 1).values(digest=bindparam("new_digest"))
)


def append(
    conn: Connection,
    *,
    actor: Actor,
    action: Action,
    outcome: AnyOutcome,
    institution_code: str | None = None,
    staff_id: str | None = None,
    person_id: int | None = None,
    category: str | None = None,
    visit_id: str | None = None,
    consent_id: int | None = None,
) -> int:
    """Append one entry inside the caller's transaction; returns its sequence number."""
    # Bumping the head first takes the write lock, so concurrent appends queue instead of forking.
    head = conn.execute(_BUMP_HEAD).one()
    entry = {
        "seq": head.seq,
        "at": now_utc(),
        "actor": str(actor),
        "institution_code": institution_code,
        "staff_id": staff_id,
        "person_id": person_id,
        "action": str(action),
        "category": category,
        "visit_id": visit_id,
        "consent_id": consent_id,
        "outcome": str(outcome),
    }
    digest = entry_digest(entry, head.digest)
    conn.execute(_INSERT, {**entry, "previous_digest": head.digest, "digest": digest})
    conn.execute(_SET_HEAD_DIGEST, {"new_digest": digest})
    seq: int = head.seq
    return seq


def entry_digest(entry: dict[str, Any], previous_digest: str) -> str:
    content = {key: _plain(entry[key]) for key in CONTENT}
    text = previous_digest + json.dumps(content, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainReport:
    entries: int
    first_broken: int | None
    reason: str | None

    @property
    def intact(self) -> bool:
        return self.first_broken is None


def verify_chain(conn: Connection, chunk: int = 10_000) -> ChainReport:
    """Recompute every digest in order; report the first entry that does not match."""
    previous, expected_seq, count = "0" * 64, 1, 0
    for row in _entries(conn, chunk):
        count += 1
        if row["seq"] != expected_seq:
            return ChainReport(count, expected_seq, "entry missing")
        if row["previous_digest"] != previous or entry_digest(row, previous) != row["digest"]:
            return ChainReport(count, row["seq"], "content or order changed")
        previous, expected_seq = row["digest"], expected_seq + 1
    head = conn.execute(select(audit_head.c.seq, audit_head.c.digest)).one()
    if (head.seq, head.digest) != (expected_seq - 1, previous):
        return ChainReport(count, expected_seq, "newest entries missing")
    return ChainReport(count, None, None)


def access_log(conn: Connection, person_id: int) -> list[dict[str, Any]]:
    """What the patient sees (マイナポータル): which institution did what with which data, and when."""
    stmt = (
        select(
            audit_log.c.at,
            audit_log.c.institution_code,
            audit_log.c.action,
            audit_log.c.category,
            audit_log.c.outcome,
        )
        .where(audit_log.c.person_id == person_id, audit_log.c.actor == Actor.INSTITUTION)
        .order_by(audit_log.c.seq.desc())
    )
    return [{**row._asdict(), "at": as_utc(row.at)} for row in conn.execute(stmt)]


def _entries(conn: Connection, chunk: int) -> Iterator[dict[str, Any]]:
    last = 0
    while True:
        rows = conn.execute(
            select(audit_log).where(audit_log.c.seq > last).order_by(audit_log.c.seq).limit(chunk)
        ).all()
        if not rows:
            return
        for row in rows:
            yield row._asdict()
        last = rows[-1].seq


def _plain(value: object) -> object:
    if isinstance(value, dt.datetime):
        return as_utc(value).isoformat(timespec="microseconds")
    return value
