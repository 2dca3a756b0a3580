"""Writing person records: upsert by individualized insured number (idempotent)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, delete, select, update

from payer_registry.db import Registry
from payer_registry.identifiers import insurer_kind, parse_insured_number
from payer_registry.models import RECORD_SECTIONS, Insurer, Person, Qualification, table_of

persons = table_of(Person)
qualifications = table_of(Qualification)
insurers = table_of(Insurer)
PERSON_FIELDS = (
    "name",
    "name_kana",
    "birth_date",
    "sex",
    "address",
    "income_category",
    "post_code",
)


class RecordConflict(ValueError):
    """The record's insured numbers belong to more than one registered person."""


def matching_person(conn: Connection, numbers: list[str]) -> int | None:
    """The one registered person holding any of ``numbers``; raise when they belong to several."""
    found: set[int] = set(
        conn.execute(
            select(qualifications.c.person_id).where(qualifications.c.insured_number.in_(numbers))
        ).scalars()
    )
    if len(found) > 1:
        raise RecordConflict("these insured numbers belong to different registered persons")
    return found.pop() if found else None


def upsert_record(
    conn: Connection,
    record: dict,
    merge: bool = False,
    anchor: str | None = None,
    card_links: bool = True,
) -> int:
    """Insert or update one person record and return the person id.

    By default the record is the whole truth: every history section is replaced. With ``merge`` only
    the record's qualifications are upserted and other sections are left alone (a CSV row); ``anchor``
    is an insured number of the same person that the record itself may not carry (a job change).
    Without ``card_links`` the person's card links are left exactly as they are: they are not payers'
    data (a card is linked where it is issued), so a payer's record neither sets nor clears them."""
    numbers = [q["insured_number"] for q in record["qualifications"]]
    person_id = matching_person(conn, numbers + ([anchor] if anchor else []))
    values = {field: record[field] for field in PERSON_FIELDS}
    if person_id is None:
        inserted = conn.execute(persons.insert().values(**values)).inserted_primary_key
        assert inserted is not None  # a single-row INSERT always reports its primary key
        person_id = inserted[0]
    else:
        conn.execute(update(persons).where(persons.c.id == person_id).values(**values))
    _ensure_insurers(conn, record["qualifications"])
    sections = ("qualifications",) if merge else tuple(RECORD_SECTIONS)
    if not card_links:
        sections = tuple(section for section in sections if section != "card_links")
    for section in sections:
        rows = record.get(section, [])
        table = RECORD_SECTIONS[section]
        if merge:
            conn.execute(delete(table).where(table.c.insured_number.in_(numbers)))
        else:
            conn.execute(delete(table).where(table.c.person_id == person_id))
        if rows:
            conn.execute(table.insert(), [_row(table, row, person_id) for row in rows])
    return person_id


def _row(table, row: dict, person_id: int) -> dict:
    values = {key: value for key, value in row.items() if key in table.c}
    if table is qualifications:
        values["insurer_number"] = parse_insured_number(row["insured_number"]).insurer
    return {**values, "person_id": person_id}


def _ensure_insurers(conn: Connection, rows: list[dict]) -> None:
    names = {parse_insured_number(q["insured_number"]).insurer: q["insurer_name"] for q in rows}
    known: dict[str, str] = dict(
        conn.execute(
            select(insurers.c.number, insurers.c.name).where(insurers.c.number.in_(names))
        ).all()
    )
    for number, name in names.items():
        if number not in known:
            conn.execute(
                insurers.insert().values(number=number, name=name, kind=insurer_kind(number))
            )
        elif known[number] != name:
            conn.execute(update(insurers).where(insurers.c.number == number).values(name=name))


def clear_registry(registry: Registry) -> None:
    """Delete every person with their histories, and every insurer."""
    with registry.begin() as conn:
        for table in (*reversed(RECORD_SECTIONS.values()), persons, insurers):
            conn.execute(delete(table))


def end_qualification(
    conn: Connection, insured_number: str, lost_on: dt.date, loss_reason: str
) -> int:
    """Record the loss of a qualification (資格喪失) and return its person's id; raises LookupError
    or ValueError."""
    row = conn.execute(
        select(qualifications.c.id, qualifications.c.person_id, qualifications.c.acquired_on).where(
            qualifications.c.insured_number == insured_number
        )
    ).first()
    if row is None:
        raise LookupError(f"no qualification {insured_number}")
    if lost_on <= row.acquired_on:
        raise ValueError(f"must be after the qualification was acquired ({row.acquired_on})")
    conn.execute(
        update(qualifications)
        .where(qualifications.c.id == row.id)
        .values(lost_on=lost_on, loss_reason=loss_reason)
    )
    person_id: int = row.person_id
    return person_id
