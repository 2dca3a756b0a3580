"""One eligibility confirmation (資格確認) against the registry, by card or by insurance-card numbers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BindParameter,
    Connection,
    Select,
    bindparam,
    cast,
    literal_column,
    null,
    select,
    union_all,
)

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
from payer_registry.prepared import PreparedStatement
from payer_registry.repository import (
    PersonRow,
    QualificationRow,
    get_person,
    holdings_matching,
    person_qualifications,
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
    """Match the numbers (and birth date when given); several different persons give ``multiple``.
    Two statements: the holders' qualifications with the holders, then their certificates."""
    holdings = holdings_matching(conn, inquiry.prefix)
    matches = [
        held
        for held in holdings
        if held.matched and inquiry.birth_date in (None, held.person.birth_date)
    ]
    person_ids = {held.person.id for held in matches}
    if not person_ids:
        return Confirmation(Validity.NOT_FOUND, at)
    if len(person_ids) > 1:
        return Confirmation(Validity.MULTIPLE, at)
    person = matches[0].person
    history = sorted(
        (held.qualification for held in holdings if held.person.id == person.id),
        key=lambda q: q.acquired_on,
    )
    return _confirmation(conn, person, matches[0].qualification, history, at)


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
    certificates = _certificates_in_force(conn, person.id, at)
    return Confirmation(
        validity=qualification_validity(_period(qualification), periods, at),
        at=at,
        person=person,
        qualification=qualification,
        copay_ratio=copay_ratio(person.birth_date, income, at, late_stage),
        preschool=at <= preschool_until(person.birth_date),
        elderly_certificate=_first(certificates["elderly_certificates"]),
        limit_certificate=_labelled(_first(certificates["limit_certificates"])),
        specific_diseases=certificates["specific_disease_certificates"],
    )


def _period(q: QualificationRow) -> Period:
    return Period(q.acquired_on, q.lost_on)


CERTIFICATE_SECTIONS = (
    "elderly_certificates",
    "limit_certificates",
    "specific_disease_certificates",
)
_FIELDS = {
    section: [c.name for c in RECORD_SECTIONS[section].c if c.name not in ("id", "person_id")]
    for section in CERTIFICATE_SECTIONS
}
_UNION_COLUMNS = {
    column.name: column.type
    for section in CERTIFICATE_SECTIONS
    for column in RECORD_SECTIONS[section].c
    if column.name != "person_id"
}
_POSITION = {name: index for index, name in enumerate(_UNION_COLUMNS, start=1)}


def _in_force(number: int, section: str) -> Select[*tuple[Any, ...]]:
    """One section's certificates of the person valid on a date, as a part of the union: every
    section's columns, NULL where the section has none, after the section's number."""
    table = RECORD_SECTIONS[section]
    at: BindParameter[dt.date] = bindparam("at")
    columns = [
        table.c[name] if name in table.c else cast(null(), kind).label(name)
        for name, kind in _UNION_COLUMNS.items()
    ]
    return select(literal_column(str(number)).label("section"), *columns).where(
        table.c.person_id == bindparam("person_id"),
        table.c.valid_from <= at,
        (table.c.valid_until.is_(None)) | (table.c.valid_until >= at),
    )


_UNION = union_all(*(_in_force(n, section) for n, section in enumerate(CERTIFICATE_SECTIONS)))
_IN_FORCE = PreparedStatement(
    _UNION.order_by(_UNION.selected_columns.section, _UNION.selected_columns.id)
)


def _certificates_in_force(conn: Connection, person_id: int, at: dt.date) -> dict[str, list[dict]]:
    """The person's certificates of every kind valid on ``at``, by section, in one statement."""
    found: dict[str, list[dict]] = {section: [] for section in CERTIFICATE_SECTIONS}
    for row in _IN_FORCE.rows(conn, {"person_id": person_id, "at": at}):
        section = CERTIFICATE_SECTIONS[row[0]]
        found[section].append({name: row[_POSITION[name]] for name in _FIELDS[section]})
    return found


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
