"""One eligibility confirmation (資格確認) against the registry, by card or by insurance-card numbers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BindParameter, Connection, Select, Table, bindparam, select

from payer_registry.eligibility import (
    IncomeCategory,
    Period,
    Validity,
    copay_ratio,
    preschool_until,
    qualification_validity,
)
from payer_registry.identifiers import InsuredNumber
from payer_registry.limits import BRACKETS, CERTIFICATE_CLASSIFICATIONS
from payer_registry.models import RECORD_SECTIONS
from payer_registry.repository import (
    PersonRow,
    QualificationRow,
    get_person,
    person_qualifications,
    persons_by_id,
    qualifications_matching,
)


@dataclass(frozen=True, slots=True)
class Inquiry:
    """What the front desk reads off an insurance card; the branch may be missing on older cards."""

    insurer_number: str
    symbol: str
    number: str
    branch: str | None = None
    birth_date: dt.date | None = None

    @property
    def prefix(self) -> str:
        household = InsuredNumber(self.insurer_number, self.symbol, self.number, "").household
        return household + (self.branch or "")


@dataclass
class Confirmation:
    validity: Validity
    at: dt.date
    person: PersonRow | None = None
    qualification: QualificationRow | None = None
    copay_ratio: int | None = None
    preschool: bool = False
    elderly_certificate: dict | None = None
    limit_certificate: dict | None = None
    specific_diseases: list[dict] = field(default_factory=list)


def confirm_by_numbers(conn: Connection, inquiry: Inquiry, at: dt.date) -> Confirmation:
    """Match the numbers (and birth date when given); several different persons give ``multiple``."""
    matches = qualifications_matching(conn, inquiry.prefix)
    people = persons_by_id(conn, {q.person_id for q in matches})
    if inquiry.birth_date:
        matches = [q for q in matches if people[q.person_id].birth_date == inquiry.birth_date]
    person_ids = {q.person_id for q in matches}
    if not person_ids:
        return Confirmation(Validity.NOT_FOUND, at)
    if len(person_ids) > 1:
        return Confirmation(Validity.MULTIPLE, at)
    person = people[person_ids.pop()]
    return _confirmation(conn, person, matches[0], person_qualifications(conn, [person.id]), at)


def confirm_person(conn: Connection, person_id: int, at: dt.date) -> Confirmation:
    """Confirm a person identified by their card: the qualification in force at ``at``, else the
    latest one that had begun."""
    person = get_person(conn, person_id)
    if person is None:
        return Confirmation(Validity.NOT_FOUND, at)
    history = person_qualifications(conn, [person_id])
    valid = [q for q in history if qualification_validity(_period(q), [], at) is Validity.VALID]
    if len(valid) > 1:
        return Confirmation(Validity.MULTIPLE, at, person)
    begun = valid or [q for q in history if q.acquired_on <= at]
    if not begun:
        return Confirmation(Validity.NOT_FOUND, at, person)
    return _confirmation(conn, person, begun[-1], history, at)


def _confirmation(
    conn: Connection,
    person: PersonRow,
    qualification: QualificationRow,
    history: list[QualificationRow],
    at: dt.date,
) -> Confirmation:
    periods = [_period(q) for q in history]
    late_stage = qualification.insurer_kind == "late_stage_elderly"
    income = IncomeCategory(person.income_category)
    return Confirmation(
        validity=qualification_validity(_period(qualification), periods, at),
        at=at,
        person=person,
        qualification=qualification,
        copay_ratio=copay_ratio(person.birth_date, income, at, late_stage),
        preschool=at <= preschool_until(person.birth_date),
        elderly_certificate=_first(_certificates(conn, "elderly_certificates", person.id, at)),
        limit_certificate=_labelled(
            _first(_certificates(conn, "limit_certificates", person.id, at))
        ),
        specific_diseases=_certificates(conn, "specific_disease_certificates", person.id, at),
    )


def _period(q: QualificationRow) -> Period:
    return Period(q.acquired_on, q.lost_on)


def _in_force(table: Table) -> Select[*tuple[Any, ...]]:
    """The person's certificates of one kind valid on a date (statement built once)."""
    columns = [c for c in table.c if c.name not in ("id", "person_id")]
    at: BindParameter[dt.date] = bindparam("at")
    return select(*columns).where(
        table.c.person_id == bindparam("person_id"),
        table.c.valid_from <= at,
        (table.c.valid_until.is_(None)) | (table.c.valid_until >= at),
    )


_IN_FORCE = {
    section: _in_force(RECORD_SECTIONS[section])
    for section in ("elderly_certificates", "limit_certificates", "specific_disease_certificates")
}


def _certificates(conn: Connection, section: str, person_id: int, at: dt.date) -> list[dict]:
    rows = conn.execute(_IN_FORCE[section], {"person_id": person_id, "at": at})
    return [row._asdict() for row in rows]


def _first(rows: list[dict]) -> dict | None:
    return rows[0] if rows else None


def _labelled(certificate: dict | None) -> dict | None:
    if certificate is None:
        return None
    return {
        **certificate,
        "bracket_label": BRACKETS[certificate["bracket_code"]].label,
        "classification_label": CERTIFICATE_CLASSIFICATIONS[certificate["classification"]],
    }
