"""One batch of the synthetic population: whole households, as rows ready for a bulk insert.

A batch depends only on (seed, batch index, its first person, its size, the reference date), so
batches can be generated in any process and in any order and still give the same rows. Ids are
explicit: a person's id is their global index + 1, and the id of each of their rows in a child table
is ``person_id * ID_STRIDE + k``."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from payer_registry.models import (
    Checkup,
    ElderlyCertificate,
    LimitCertificate,
    Medication,
    Person,
    ProcedureRecord,
    Qualification,
    SpecificDiseaseCertificate,
    table_of,
)
from payer_registry.synthetic.certificates import (
    elderly_certificates,
    limit_certificates,
    specific_disease_certificates,
)
from payer_registry.synthetic.coverage import Coverage, Span, card_dates, cover_household
from payer_registry.synthetic.dates import iso
from payer_registry.synthetic.medical import checkups, institutions, medications, procedure_records
from payer_registry.synthetic.people import Household, draw_household

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    table.name: tuple(column.name for column in table.columns)
    for table in map(
        table_of,
        (
            Person,
            Qualification,
            ElderlyCertificate,
            LimitCertificate,
            SpecificDiseaseCertificate,
            Medication,
            Checkup,
            ProcedureRecord,
        ),
    )
}
"""The tables a batch fills, in insertion order (persons first), with their columns in row order."""

ID_STRIDE = 100
BATCH_PERSONS = 5_000

Batch = dict[str, list[tuple]]


@dataclass(frozen=True, slots=True)
class BatchSpec:
    seed: int
    index: int
    first_person: int  # global index of the batch's first person
    persons: int
    today: int  # ordinal of the reference date


def batch_specs(
    persons: int, seed: int, reference_date: dt.date, size: int = BATCH_PERSONS
) -> list[BatchSpec]:
    today = reference_date.toordinal()
    return [
        BatchSpec(seed, index, first, min(size, persons - first), today)
        for index, first in enumerate(range(0, persons, size))
    ]


def generate_batch(spec: BatchSpec) -> Batch:
    """Every row of the batch's persons, table by table (see ``TABLE_COLUMNS``)."""
    rng = random.Random(f"{spec.seed}:{spec.index}")
    rows: Batch = {table: [] for table in TABLE_COLUMNS}
    index, stop = spec.first_person, spec.first_person + spec.persons
    while index < stop:
        household = draw_household(rng, index, stop - index, spec.today)
        for cover in cover_household(rng, household, spec.today):
            _add_person(rng, rows, household, cover, spec.today)
        index += len(household.residents)
    return rows


def _add_person(
    rng: random.Random, rows: Batch, household: Household, cover: Coverage, today: int
) -> None:
    resident = cover.resident
    person_id = resident.index + 1
    rows["persons"].append(
        (person_id, resident.name, resident.kana, iso(resident.birth), resident.sex,
         household.address, cover.income.value, household.post_code)
    )  # fmt: skip
    pool = institutions(household.prefecture)
    end = cover.died_on or today
    children = {
        "qualifications": [_qualification_row(span, today) for span in cover.spans],
        "elderly_certificates": elderly_certificates(cover, today),
        "limit_certificates": limit_certificates(rng, cover, today),
        "specific_disease_certificates": specific_disease_certificates(rng, cover, today),
        "medications": medications(rng, resident, pool, today, end),
        "checkups": checkups(rng, resident, pool, today, end),
        "procedure_records": procedure_records(rng, resident, pool, today, end),
    }
    for table, values in children.items():
        rows[table].extend((person_id * ID_STRIDE + k, person_id, *v) for k, v in enumerate(values))


def _qualification_row(span: Span, today: int) -> tuple:
    insured = span.insured
    lost = iso(span.lost) if span.lost is not None else None
    issued, valid_until = card_dates(
        insured.insurer, span.classification, span.acquired, span.lost, today
    )
    issued_on = iso(issued)  # also the first day of validity
    until = iso(valid_until) if valid_until is not None else None
    return (str(insured), insured.insurer, span.relationship, span.classification,
            span.insured_name, iso(span.acquired), lost, span.reason,
            issued_on, issued_on, until)  # fmt: skip
