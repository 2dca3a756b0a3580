"""Export: one JSON object a line per person, in exactly the format ``importer`` reads."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterator

from sqlalchemy import Connection, select

from payer_registry.clock import as_utc
from payer_registry.models import RECORD_SECTIONS, Insurer, Person, table_of
from payer_registry.records import PERSON_RECORD
from payer_registry.writer import PERSON_FIELDS

persons = table_of(Person)
insurers = table_of(Insurer)
_INTERNAL = {"id", "person_id", "insurer_number"}


def person_records(conn: Connection, person_ids: list[int]) -> list[dict]:
    """Whole records for ``person_ids`` (in that order), as ``PERSON_RECORD`` would load them."""
    people = {
        row.id: row._asdict()
        for row in conn.execute(
            select(persons.c.id, *(persons.c[f] for f in PERSON_FIELDS)).where(
                persons.c.id.in_(person_ids)
            )
        )
    }
    sections = {name: _section(conn, name, person_ids) for name in RECORD_SECTIONS}
    records = []
    for person_id in person_ids:
        if person_id not in people:
            continue
        record = {f: people[person_id][f] for f in PERSON_FIELDS}
        record.update({name: rows.get(person_id, []) for name, rows in sections.items()})
        records.append(record)
    return records


def export_lines(conn: Connection, chunk: int = 1000) -> Iterator[str]:
    """Every person as a JSON line, in id order, reading ``chunk`` persons at a time."""
    last_id = 0
    while True:
        ids: list[int] = list(
            conn.execute(
                select(persons.c.id)
                .where(persons.c.id > last_id)
                .order_by(persons.c.id)
                .limit(chunk)
            ).scalars()
        )
        if not ids:
            return
        for record in person_records(conn, ids):
            yield to_json_line(record)
        last_id = ids[-1]


def to_json_line(record: dict) -> str:
    return json.dumps(PERSON_RECORD.dump(record), ensure_ascii=False, separators=(",", ":"))


def _section(conn: Connection, name: str, person_ids: list[int]) -> dict[int, list[dict]]:
    table = RECORD_SECTIONS[name]
    columns = [c for c in table.c if c.name not in ("id",)]
    stmt = select(*columns).where(table.c.person_id.in_(person_ids)).order_by(table.c.id)
    if name == "qualifications":
        stmt = stmt.add_columns(insurers.c.name.label("insurer_name")).join(
            insurers, insurers.c.number == table.c.insurer_number
        )
    grouped: dict[int, list[dict]] = defaultdict(list)
    for row in conn.execute(stmt):
        values = row._asdict()
        grouped[values["person_id"]].append(
            {k: _utc(v) for k, v in values.items() if k not in _INTERNAL}
        )
    return grouped


def _utc(value):
    return as_utc(value) if isinstance(value, dt.datetime) else value
