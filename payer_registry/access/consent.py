"""Consent (同意), SPEC §3: given at the reader for one institution, live for a limited time."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Connection, select

from payer_registry.access.models import Consent
from payer_registry.clock import as_utc

consents = Consent.__table__

# 薬剤情報, 特定健診等情報, 診療情報, 手術情報, 限度額適用認定証関連情報, 特定疾病療養受療証
CATEGORIES = (
    "medication",
    "checkup",
    "clinical",
    "surgery",
    "limit_certificate",
    "specific_diseases",
)
MEDICAL_CATEGORIES = ("medication", "checkup", "clinical", "surgery")
DEFAULT_OFFERED = ("medication", "checkup", "limit_certificate", "specific_diseases")


class ConsentState(StrEnum):
    LIVE = "live"
    EXPIRED = "expired"
    NONE = "none"


def record_consents(
    conn: Connection,
    visit_id: str,
    person_id: int,
    institution_code: str,
    categories: list[str],
    at: dt.datetime,
    ttl: dt.timedelta,
) -> list[dict]:
    """Store the consents given at one verification; returns them as plain data."""
    rows = [
        {
            "visit_id": visit_id,
            "person_id": person_id,
            "institution_code": institution_code,
            "category": category,
            "consented_at": at,
            "available_until": at + ttl,
        }
        for category in categories
    ]
    if rows:
        conn.execute(consents.insert(), rows)
    return rows


def consent_state(
    conn: Connection, person_id: int, institution_code: str, category: str, at: dt.datetime
) -> tuple[ConsentState, int | None]:
    """The newest consent of this person for this institution and category, and whether it is live."""
    row = conn.execute(
        select(consents.c.id, consents.c.available_until)
        .where(
            consents.c.person_id == person_id,
            consents.c.institution_code == institution_code,
            consents.c.category == category,
        )
        .order_by(consents.c.consented_at.desc(), consents.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return ConsentState.NONE, None
    live = as_utc(row.available_until) > at
    return (ConsentState.LIVE if live else ConsentState.EXPIRED), row.id


def consents_of_person(conn: Connection, person_id: int) -> list[dict]:
    stmt = (
        select(
            consents.c.institution_code,
            consents.c.category,
            consents.c.consented_at,
            consents.c.available_until,
        )
        .where(consents.c.person_id == person_id)
        .order_by(consents.c.consented_at.desc())
    )
    return [
        {
            **row._asdict(),
            "consented_at": as_utc(row.consented_at),
            "available_until": as_utc(row.available_until),
        }
        for row in conn.execute(stmt)
    ]


def consents_of_visit(conn: Connection, visit_id: str) -> list[dict]:
    stmt = (
        select(consents.c.category, consents.c.consented_at, consents.c.available_until)
        .where(consents.c.visit_id == visit_id)
        .order_by(consents.c.id)
    )
    return [_with_utc(row._asdict()) for row in conn.execute(stmt)]


def _with_utc(row: dict) -> dict:
    return {
        **row,
        "consented_at": as_utc(row["consented_at"]),
        "available_until": as_utc(row["available_until"]),
    }
