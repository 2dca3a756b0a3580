"""Card sessions (single-use server challenges) and the visits a verified card opens."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, select, update

from app.service.accounts import token_digest
from app.service.models import CardSession, PortalSession, Visit
from payer_registry.clock import as_utc, now_utc

card_sessions = CardSession.__table__
visits = Visit.__table__
portal_sessions = PortalSession.__table__
CHALLENGE_BYTES = 32
PURPOSES = ("visit", "portal")


class ChallengeInvalid(LookupError):
    """Unknown, expired, already used, or issued to someone else."""


@dataclass(frozen=True, slots=True)
class IssuedChallenge:
    session_id: str
    challenge: bytes
    expires_at: dt.datetime


def open_session(
    conn: Connection, institution_code: str | None, purpose: str, ttl: dt.timedelta
) -> IssuedChallenge:
    """Issue a fresh random challenge; ``institution_code`` is None for the patient portal."""
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
    return row.challenge


def open_visit(
    conn: Connection, institution_code: str, person_id: int, method: str, staff_id: str | None
) -> dict:
    visit = {
        "id": str(uuid.uuid4()),
        "institution_code": institution_code,
        "person_id": person_id,
        "method": method,
        "staff_id": staff_id,
        "confirmed_at": now_utc(),
    }
    conn.execute(visits.insert().values(**visit))
    return visit


def get_visit(conn: Connection, visit_id: str) -> dict | None:
    row = conn.execute(select(visits).where(visits.c.id == visit_id)).first()
    return {**row._asdict(), "confirmed_at": as_utc(row.confirmed_at)} if row else None


def open_portal_session(
    conn: Connection, person_id: int, ttl: dt.timedelta
) -> tuple[str, dt.datetime]:
    """A bearer token for the patient's own view (stored only as its digest) and its expiry."""
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


def _same(column, value):
    return column.is_(None) if value is None else column == value
