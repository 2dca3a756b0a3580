"""Reads from the registry: one person by individualized number, qualifications, whole records, counts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, and_, bindparam, func, select

from payer_registry.models import PERSON_TABLES, Insurer, Person, Qualification, table_of
from payer_registry.prepared import PreparedStatement

persons = table_of(Person)
qualifications = table_of(Qualification)
insurers = table_of(Insurer)


@dataclass(frozen=True, slots=True)
class PersonRow:
    id: int
    name: str
    name_kana: str
    birth_date: dt.date
    sex: str
    address: str
    income_category: str
    post_code: str | None


@dataclass(frozen=True, slots=True)
class QualificationRow:
    person_id: int
    insured_number: str
    insurer_number: str
    insurer_name: str
    insurer_kind: str
    relationship: str
    card_classification: str
    insured_name: str
    acquired_on: dt.date
    lost_on: dt.date | None
    loss_reason: str | None
    certificate_issued_on: dt.date | None
    card_valid_from: dt.date | None
    card_valid_until: dt.date | None


_FIND_PERSON = (
    select(*(persons.c[name] for name in PersonRow.__slots__))
    .join(qualifications, qualifications.c.person_id == persons.c.id)
    .where(qualifications.c.insured_number == bindparam("number"))
)
_QUALIFICATION_COLUMNS = (
    *(qualifications.c[name] for name in ("person_id", "insured_number", "insurer_number")),
    insurers.c.name.label("insurer_name"),
    insurers.c.kind.label("insurer_kind"),
    *(qualifications.c[name] for name in QualificationRow.__slots__[5:]),
)
_QUALIFICATIONS = select(*_QUALIFICATION_COLUMNS).join(
    insurers, insurers.c.number == qualifications.c.insurer_number
)


_PERSON_COLUMNS = tuple(persons.c[name] for name in PersonRow.__slots__)
_IN_RANGE = and_(
    qualifications.c.insured_number >= bindparam("low"),
    qualifications.c.insured_number < bindparam("high"),
)
_HOLDINGS = PreparedStatement(
    _QUALIFICATIONS.add_columns(*_PERSON_COLUMNS, _IN_RANGE.label("matched"))
    .join(persons, persons.c.id == qualifications.c.person_id)
    .where(qualifications.c.person_id.in_(select(qualifications.c.person_id).where(_IN_RANGE)))
    .order_by(qualifications.c.insured_number)
)
_QUALIFICATIONS_OF = _QUALIFICATIONS.where(
    qualifications.c.person_id.in_(bindparam("ids", expanding=True))
).order_by(qualifications.c.person_id, qualifications.c.acquired_on)
_PERSONS_BY_ID = select(*(persons.c[name] for name in PersonRow.__slots__)).where(
    persons.c.id.in_(bindparam("ids", expanding=True))
)


def find_person(conn: Connection, insured_number: str) -> PersonRow | None:
    """The person holding this individualized insured number (canonical text form)."""
    row = conn.execute(_FIND_PERSON, {"number": insured_number}).first()
    return PersonRow(**row._mapping) if row else None


def get_person(conn: Connection, person_id: int) -> PersonRow | None:
    return persons_by_id(conn, {person_id}).get(person_id)


@dataclass(frozen=True, slots=True)
class Holding:
    """A qualification with its holder; ``matched``: its number starts with the prefix asked for."""

    qualification: QualificationRow
    person: PersonRow
    matched: bool


_PERSON_AT = len(QualificationRow.__slots__)
_MATCHED_AT = _PERSON_AT + len(PersonRow.__slots__)


def holdings_matching(conn: Connection, prefix: str) -> list[Holding]:
    """Every qualification of every person holding a number that starts with ``prefix`` (a
    household, or a whole number), in the order of the numbers, in one statement.

    The comparison is a range on the unique index, so it stays an index lookup."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    rows = _HOLDINGS.rows(conn, {"low": prefix, "high": upper})
    return [
        Holding(
            QualificationRow(*row[:_PERSON_AT]),
            PersonRow(*row[_PERSON_AT:_MATCHED_AT]),
            bool(row[_MATCHED_AT]),
        )
        for row in rows
    ]


def person_qualifications(conn: Connection, person_ids: list[int]) -> list[QualificationRow]:
    rows = conn.execute(_QUALIFICATIONS_OF, {"ids": person_ids})
    return [QualificationRow(**row._mapping) for row in rows]


def counts(conn: Connection) -> dict[str, int]:
    """Row counts of every table, for ``eligsim registry stats``."""
    tables = (insurers, persons, *PERSON_TABLES)
    return {
        table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
        for table in tables
    }


def persons_by_id(conn: Connection, person_ids: set[int]) -> dict[int, PersonRow]:
    if not person_ids:
        return {}
    rows = conn.execute(_PERSONS_BY_ID, {"ids": list(person_ids)})
    return {row.id: PersonRow(**row._mapping) for row in rows}
