"""Card sessions (single-use server challenges), the visits a verified card opens, and the
patient's portal sessions. Expired card and portal sessions are of no use to anyone, so opening a
new one deletes up to ``PURGE_AT_MOST`` of them: the tables stay as small as the live sessions."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Row,
    Table,
    and_,
    delete,
    or_,
    select,
    update,
)

from app.service.accounts import token_digest
from app.service.models import CardSession, PortalSession, Visit
from payer_registry.clock import as_utc, now_utc
from payer_registry.models import table_of

card_sessions = table_of(CardSession)
visits = table_of(Visit)
portal_sessions = table_of(PortalSession)
CHALLENGE_BYTES = 32
PURPOSES = ("visit", "portal")
# expired rows deleted per new session: bounded work per call, yet they cannot pile up
PURGE_AT_MOST = 500


class ChallengeInvalid(LookupError):
    """Unknown, expired, already used, or issued to someone else."""


@dataclass(frozen=True, slots=True)
class VisitRow:
    """One confirmed card verification at an institution (受付)."""

    id: str
    institution_code: str
    person_id: int
    method: str  # pin or face
    staff_id: str | None
    confirmed_at: dt.datetime


@dataclass(frozen=True, slots=True)
class IssuedChallenge:
    session_id: str
    challenge: bytes
    expires_at: dt.datetime


def open_session(
    conn: Connection, institution_code: str | None, purpose: str, ttl: dt.timedelta
) -> IssuedChallenge:
    """Issue a fresh random challenge; ``institution_code`` is None for the patient portal."""
    _purge_expired(conn, card_sessions, card_sessions.c.id)
    issued = IssuedChallenge(
        str(uuid.uuid4()), secrets.token_bytes(CHALLENGE_BYTES), now_utc() + ttl
    )
    conn.execute(
        card_sessions.insert().values(
            id=issued.session_id,
            institution_code=institution_code,
            purpose=purpose,
            challenge=issued.challenge,
            created_at=now_utc(),
            expires_at=issued.expires_at,
        )
    )
    return issued


def consume_challenge(
    conn: Connection, session_id: str, institution_code: str | None, purpose: str
) -> bytes:
    """Mark the session used and return its challenge; a second use, or a late one, is refused."""
    now = now_utc()
    row = conn.execute(
        select(card_sessions).where(
            card_sessions.c.id == session_id,
            card_sessions.c.purpose == purpose,
            _same(card_sessions.c.institution_code, institution_code),
        )
    ).first()
    if row is None:
        raise ChallengeInvalid("no such card session")
    if row.used_at is not None:
        raise ChallengeInvalid("this challenge has already been used")
    if as_utc(row.expires_at) <= now:
        raise ChallengeInvalid("this challenge has expired; open a new card session")
    used = conn.execute(
        update(card_sessions)
        .where(card_sessions.c.id == session_id, card_sessions.c.used_at.is_(None))
        .values(used_at=now)
    )
    if used.rowcount != 1:
        raise ChallengeInvalid("this challenge has already been used")
    challenge: bytes = row.challenge
    return challenge


def open_visit(
    conn: Connection, institution_code: str, person_id: int, method: str, staff_id: str | None
) -> VisitRow:
    visit = VisitRow(str(uuid.uuid4()), institution_code, person_id, method, staff_id, now_utc())
    conn.execute(visits.insert().values(**asdict(visit)))
    return visit


VisitCursor = tuple[dt.datetime, str]  # (confirmed_at, id) of the last visit seen


def visits_since(
    conn: Connection, institution_code: str, after: VisitCursor | None, limit: int
) -> list[VisitRow]:
    """The institution's visits after the cursor, in (confirmed_at, id) order."""
    stmt = select(visits).where(visits.c.institution_code == institution_code)
    if after is not None:
        at, visit_id = after
        stmt = stmt.where(
            or_(
                visits.c.confirmed_at > at,
                and_(visits.c.confirmed_at == at, visits.c.id > visit_id),
            )
        )
    rows = conn.execute(stmt.order_by(visits.c.confirmed_at, visits.c.id).limit(limit))
    return [_visit_row(row) for row in rows]


def get_visit(conn: Connection, visit_id: str) -> VisitRow | None:
    row = conn.execute(select(visits).where(visits.c.id == visit_id)).first()
    return None if row is None else _visit_row(row)


def _visit_row(row: Row[Any]) -> VisitRow:
    return VisitRow(
        row.id, row.institution_code, row.person_id, row.method, row.staff_id,
        as_utc(row.confirmed_at),
    )  # fmt: skip


def open_portal_session(
    conn: Connection, person_id: int, ttl: dt.timedelta
) -> tuple[str, dt.datetime]:
    """A bearer token for the patient's own view (stored only as its digest) and its expiry."""
    _purge_expired(conn, portal_sessions, portal_sessions.c.digest)
    token, expires_at = secrets.token_urlsafe(32), now_utc() + ttl
    conn.execute(
        portal_sessions.insert().values(
            digest=token_digest(token), person_id=person_id, expires_at=expires_at
        )
    )
    return token, expires_at


def portal_person(conn: Connection, token: str) -> int | None:
    row = conn.execute(
        select(portal_sessions.c.person_id, portal_sessions.c.expires_at).where(
            portal_sessions.c.digest == token_digest(token)
        )
    ).first()
    return row.person_id if row and as_utc(row.expires_at) > now_utc() else None


def _purge_expired(conn: Connection, table: Table, key: Column[Any]) -> None:
    """Delete up to ``PURGE_AT_MOST`` expired rows of ``table``. Rows another transaction holds are
    skipped (PostgreSQL), so concurrent purges neither wait on nor deadlock with each other."""
    expired = (
        select(key)
        .where(table.c.expires_at < now_utc())
        .limit(PURGE_AT_MOST)
        .with_for_update(skip_locked=True)
    )
    conn.execute(delete(table).where(key.in_(expired)))


def _same(column: ColumnElement[Any], value: str | None) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value
