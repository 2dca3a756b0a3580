"""Writing person records: upsert by individualized insured number (idempotent)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, delete, select, update

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


NUMBERS_PER_QUERY = 5_000  # well below the bound parameters any supported database takes


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


def persons_holding(conn: Connection, numbers: list[str]) -> dict[str, int]:
    """The registered person holding each of ``numbers`` (those registered), however many."""
    held: dict[str, int] = {}
    for start in range(0, len(numbers), NUMBERS_PER_QUERY):
        rows = conn.execute(
            select(qualifications.c.insured_number, qualifications.c.person_id).where(
                qualifications.c.insured_number.in_(numbers[start : start + NUMBERS_PER_QUERY])
            )
        )
        held.update((row.insured_number, row.person_id) for row in rows)
    return held


@dataclass(frozen=True, slots=True)
class Incoming:
    """A validated person record to write; ``anchor`` is an insured number of the same person that
    the record itself may not carry (a job change)."""

    record: dict
    anchor: str | None = None


Written = int | RecordConflict
"""What became of one record written: its person's id, or the conflict that left it out."""


def upsert_record(
    conn: Connection,
    record: dict,
    merge: bool = False,
    anchor: str | None = None,
    card_links: bool = True,
) -> int:
    """Insert or update one person record and return the person id (``write_records``, whose rules
    it follows); raises ``RecordConflict``."""
    written = write_records(conn, [Incoming(record, anchor)], merge, card_links)[0]
    if isinstance(written, RecordConflict):
        raise written
    return written


def write_records(
    conn: Connection, incoming: Sequence[Incoming], merge: bool = False, card_links: bool = True
) -> list[Written]:
    """Insert or update person records, one statement per table for them all, with the very result
    of writing them one after the other; per record, its person's id or the conflict that left it
    out (its insured numbers belong, by then, to several persons).

    By default a record is the whole truth: every history section is replaced. With ``merge`` only
    the record's qualifications are upserted and other sections are left alone (a CSV row). Without
    ``card_links`` the persons' card links are left exactly as they are: they are not payers' data
    (a card is linked where it is issued), so a payer's record neither sets nor clears them."""
    numbers = [n for item in incoming for n in _numbers(item.record) + _anchored(item)]
    plan = _Plan(persons_holding(conn, numbers), merge)
    outcomes = [plan.take(item) for item in incoming]
    ids = _store_persons(conn, plan)
    _ensure_insurers(conn, [q for record in plan.taken for q in record["qualifications"]])
    sections = ("qualifications",) if merge else tuple(RECORD_SECTIONS)
    for section in sections if card_links else (s for s in sections if s != "card_links"):
        _replace_section(conn, section, plan, ids)
    return [ids[outcome] if isinstance(outcome, int) else outcome for outcome in outcomes]


def persons_written(outcomes: list[Written]) -> list[int]:
    """The ids of the persons written, one per record not left out, in order."""
    return [outcome for outcome in outcomes if not isinstance(outcome, RecordConflict)]


class _Plan:
    """Who each record of a batch writes to, worked out in memory as writing the records one after
    the other would: ``held`` follows the insured numbers of the batch from person to person. A
    person is a registered id, or a negative key until it is inserted."""

    def __init__(self, held: dict[str, int], merge: bool) -> None:
        self.held: dict[str, int] = held
        self.merge = merge
        self.records: dict[int, dict] = {}  # person -> the last record written to them
        self.merged: dict[str, tuple[int, dict]] = {}  # insured number -> person and qualification
        self.new: list[int] = []
        self.taken: list[dict] = []  # the records written, in order

    def take(self, item: Incoming) -> int | RecordConflict:
        numbers = _numbers(item.record)
        found = {self.held[n] for n in numbers + _anchored(item) if n in self.held}
        if len(found) > 1:
            return RecordConflict("these insured numbers belong to different registered persons")
        person = found.pop() if found else self._new_person()
        if not self.merge:  # the record replaces every qualification the person held
            self.held = {n: holder for n, holder in self.held.items() if holder != person}
        for qualification in item.record["qualifications"]:
            number = qualification["insured_number"]
            self.held[number] = person
            self.merged.pop(number, None)  # the latest write comes last, as its row would
            self.merged[number] = (person, qualification)
        self.records.pop(person, None)
        self.records[person] = item.record
        self.taken.append(item.record)
        return person

    def _new_person(self) -> int:
        self.new.append(-1 - len(self.new))
        return self.new[-1]


def _store_persons(conn: Connection, plan: _Plan) -> dict[int, int]:
    """Insert the new persons and update the others (each with their last record's fields); every
    person's id, by the plan's key."""
    ids = {person: person for person in plan.records if person > 0}
    if plan.new:
        rows = [_person_values(plan.records[key]) for key in plan.new]
        returning = persons.insert().returning(persons.c.id, sort_by_parameter_order=True)
        inserted: list[int] = list(conn.execute(returning, rows).scalars())
        ids.update(zip(plan.new, inserted, strict=True))
    updated = [
        {"person": key, **_person_values(plan.records[key])} for key in plan.records if key > 0
    ]
    if updated:
        conn.execute(update(persons).where(persons.c.id == bindparam("person")), updated)
    return ids


def _replace_section(conn: Connection, section: str, plan: _Plan, ids: dict[int, int]) -> None:
    """Delete the rows the records replace, then insert theirs, in one statement each."""
    table = RECORD_SECTIONS[section]
    if plan.merge:
        replaced = table.c.insured_number.in_(list(plan.merged))
        rows = [_row(table, row, ids[person]) for person, row in plan.merged.values()]
    else:
        replaced = table.c.person_id.in_([ids[person] for person in plan.records if person > 0])
        rows = [
            _row(table, row, ids[person])
            for person, record in plan.records.items()
            for row in record.get(section, [])
        ]
    conn.execute(delete(table).where(replaced))
    if rows:
        conn.execute(table.insert(), rows)


def _numbers(record: dict) -> list[str]:
    return [q["insured_number"] for q in record["qualifications"]]


def _anchored(item: Incoming) -> list[str]:
    return [item.anchor] if item.anchor else []


def _person_values(record: dict) -> dict:
    return {field: record[field] for field in PERSON_FIELDS}


def _row(table, row: dict, person_id: int) -> dict:
    values = {key: value for key, value in row.items() if key in table.c}
    if table is qualifications:
        values["insurer_number"] = parse_insured_number(row["insured_number"]).insurer
    return {**values, "person_id": person_id}


def _ensure_insurers(conn: Connection, rows: list[dict]) -> None:
    """Register the insurers of ``rows`` (qualifications), or rename them: the last name given wins."""
    names = {parse_insured_number(q["insured_number"]).insurer: q["insurer_name"] for q in rows}
    known: dict[str, str] = dict(
        conn.execute(
            select(insurers.c.number, insurers.c.name).where(insurers.c.number.in_(names))
        ).all()
    )
    added = [
        {"number": number, "name": name, "kind": insurer_kind(number)}
        for number, name in names.items()
        if number not in known
    ]
    renamed = [
        {"insurer": number, "name": name}
        for number, name in names.items()
        if number in known and known[number] != name
    ]
    if added:
        conn.execute(insurers.insert(), added)
    if renamed:
        conn.execute(update(insurers).where(insurers.c.number == bindparam("insurer")), renamed)


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
