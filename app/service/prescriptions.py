"""Prescriptions and the duplicate-medication check (重複投薬等チェック), docs/rules.md §7.

An institution records the drugs it prescribes for the patient of one of its card visits; like an
electronic prescription, every institution sees them at once (claims data, the registry's medication
records, arrive about 45 days late). Before prescribing, it checks planned drugs against both: the
same first 7 characters of the YJ code (therapeutic class, route and ingredient) over overlapping days
of use is a duplicate, the same first 4 (therapeutic class) a weaker same-class warning. What was
found is shown in full only under the consent rule of ``consent.duplicate_details_shown``. Every
prescription and every check is audited; the patient's portal lists the checks made on them."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, func, select

from app.service import audit, consent
from app.service.audit import Action, Actor, Outcome
from app.service.context import ServiceContext
from app.service.errors import ServiceError
from app.service.models import Institution, Prescription, PrescriptionCheck
from app.service.visits import Look, allow_look, own_visit
from payer_registry.clock import as_utc, now_utc
from payer_registry.models import Medication, table_of
from payer_registry.presenting import jsonable
from payer_registry.synthetic.reference import drugs

prescriptions = table_of(Prescription)
checks = table_of(PrescriptionCheck)
institutions = table_of(Institution)
medications = table_of(Medication)

YJ_CODE = "[0-9]{7}[A-Z][0-9A-Z][0-9]{3}"
"""A YJ code (個別医薬品コード): therapeutic class (4 digits), route and ingredient (3 digits), dosage
form (a letter), strength (a digit or letter), brand (2 digits) and a check digit (not verified)."""
SAME_INGREDIENT = 7  # the leading characters that name the ingredient and route
SAME_CLASS = 4  # the leading characters that name the therapeutic class (薬効分類)
MAX_DAYS = 365  # days of use of one prescription (as the registry's medication records)
MAX_PLANNED = 20  # planned drugs in one check


class Finding(StrEnum):
    """What a check found for a planned drug (the worst of them for the whole check)."""

    DUPLICATE = "duplicate"
    SAME_CLASS = "same_class"
    NONE = "none"


_SEVERITY = (Finding.DUPLICATE, Finding.SAME_CLASS, Finding.NONE)
_AUDIT_OUTCOMES = {
    Finding.DUPLICATE: Outcome.DUPLICATE,
    Finding.SAME_CLASS: Outcome.SAME_CLASS,
    Finding.NONE: Outcome.NO_DUPLICATE,
}


def is_yj_code(text: str) -> bool:
    return re.fullmatch(YJ_CODE, text) is not None


def last_day(first: dt.date, days: int) -> dt.date:
    """The last day of use of a drug taken for ``days`` days from ``first`` (that day included)."""
    return first + dt.timedelta(days=days - 1)


@dataclass(frozen=True, slots=True)
class PlannedDrug:
    """A drug the institution means to prescribe, taken for ``days`` days from ``start_on``."""

    drug_code: str
    days: int
    start_on: dt.date

    @property
    def last_day(self) -> dt.date:
        return last_day(self.start_on, self.days)


@dataclass(frozen=True, slots=True)
class Course:
    """A drug the patient takes or took: dispensed (the registry's medication records, from claims)
    or prescribed (recorded here by an institution), from ``start_on`` to ``last_day``."""

    source: str
    drug_code: str
    drug_name: str
    ingredient: str
    institution_code: str
    institution_name: str
    start_on: dt.date
    last_day: dt.date
    days: int
    usage: str

    def overlaps(self, planned: PlannedDrug) -> bool:
        """Shares at least one day of use: ending the day before, or starting the day after, does not."""
        return self.start_on <= planned.last_day and planned.start_on <= self.last_day

    def finding(self, planned: PlannedDrug) -> Finding:
        if not self.overlaps(planned):
            return Finding.NONE
        if self.drug_code[:SAME_INGREDIENT] == planned.drug_code[:SAME_INGREDIENT]:
            return Finding.DUPLICATE
        if self.drug_code[:SAME_CLASS] == planned.drug_code[:SAME_CLASS]:
            return Finding.SAME_CLASS
        return Finding.NONE


@dataclass(frozen=True, slots=True)
class DrugResult:
    """One planned drug and the courses it duplicates or shares a class with."""

    planned: PlannedDrug
    duplicates: list[Course] = field(default_factory=list)
    same_class: list[Course] = field(default_factory=list)

    @property
    def finding(self) -> Finding:
        if self.duplicates:
            return Finding.DUPLICATE
        return Finding.SAME_CLASS if self.same_class else Finding.NONE


# -- the bundled drug list ------------------------------------------------------------------------


@cache
def drug_list() -> tuple[dict[str, Any], ...]:
    """The drugs the registry's synthetic data prescribes (payer_registry/data/drugs.csv), by name:
    what the front-desk page searches."""
    listed = (
        {
            "drug_code": drug.code,
            "drug_name": drug.name,
            "ingredient": drug.ingredient,
            "unit": drug.unit,
            "daily_quantity": drug.daily_quantity,
            "usage": drug.usage,
            "chronic": drug.chronic,
        }
        for drug, _ in drugs()
    )
    return tuple(sorted(listed, key=lambda drug: drug["drug_name"]))


def _listed_name(drug_code: str) -> str | None:
    return next((d["drug_name"] for d in drug_list() if d["drug_code"] == drug_code), None)


# -- recording ------------------------------------------------------------------------------------


def record_prescription(
    ctx: ServiceContext, institution_code: str, visit_id: str, drug: dict[str, Any]
) -> dict[str, Any]:
    """Record a drug the institution prescribes for its visit's patient (``drug``: the fields of
    ``Prescription`` from ``drug_code`` to ``issued_on``, and ``staff_id``); audited. Every
    institution's check sees it at once."""
    visit = own_visit(ctx, visit_id, institution_code)
    row = {
        **drug,
        "id": str(uuid.uuid4()),
        "visit_id": visit.id,
        "person_id": visit.person_id,
        "institution_code": institution_code,
        "recorded_at": now_utc(),
    }
    with ctx.registry.begin() as conn:
        conn.execute(prescriptions.insert().values(row))
        audit.append(
            conn,
            actor=Actor.INSTITUTION,
            action=Action.PRESCRIPTION,
            outcome=Outcome.WRITTEN,
            institution_code=institution_code,
            staff_id=drug.get("staff_id"),
            person_id=visit.person_id,
            category=consent.DUPLICATE_DETAILS_CATEGORY,
            visit_id=visit.id,
        )
    return {key: value for key, value in row.items() if key != "person_id"}


# -- checking -------------------------------------------------------------------------------------


def check_prescriptions(
    ctx: ServiceContext,
    institution_code: str,
    visit_id: str,
    planned: Sequence[PlannedDrug],
    staff_id: str | None = None,
) -> dict[str, Any]:
    """The planned drugs checked against everything the patient takes at any institution; the
    answer's details follow the consent rule; the check is stored for the portal and audited."""
    visit = own_visit(ctx, visit_id, institution_code)
    checked_at = now_utc()
    with ctx.registry.begin() as conn:
        state, consent_id = consent.consent_state(
            conn, visit.person_id, institution_code, consent.DUPLICATE_DETAILS_CATEGORY, checked_at
        )
        found = _courses(conn, visit.person_id, planned)
        results = [_result(drug, found) for drug in planned]
        shown = consent.duplicate_details_shown(state)
        worst = min((r.finding for r in results), key=_SEVERITY.index, default=Finding.NONE)
        conn.execute(
            checks.insert().values(
                id=str(uuid.uuid4()),
                visit_id=visit.id,
                person_id=visit.person_id,
                institution_code=institution_code,
                staff_id=staff_id,
                checked_at=checked_at,
                finding=str(worst),
                details_shown=shown,
                planned=json.dumps(jsonable([_planned_entry(r) for r in results])),
            )
        )
        audit.append(
            conn,
            actor=Actor.INSTITUTION,
            action=Action.PRESCRIPTION_CHECK,
            outcome=_AUDIT_OUTCOMES[worst],
            institution_code=institution_code,
            staff_id=staff_id,
            person_id=visit.person_id,
            category=consent.DUPLICATE_DETAILS_CATEGORY,
            visit_id=visit.id,
            consent_id=consent_id,
        )
    return {
        "visit_id": visit.id,
        "checked_at": checked_at,
        "finding": worst,
        "details_shown": shown,
        "results": [_answer(result, shown) for result in results],
    }


def _courses(conn: Connection, person_id: int, planned: Sequence[PlannedDrug]) -> list[Course]:
    """The person's dispensed and prescribed drugs of the planned drugs' classes that may overlap
    the planned days (a course lasts at most ``MAX_DAYS``); ``Course.finding`` decides exactly."""
    if not planned:
        return []
    classes = {drug.drug_code[:SAME_CLASS] for drug in planned}
    earliest = min(drug.start_on for drug in planned) - dt.timedelta(days=MAX_DAYS)
    latest = max(drug.last_day for drug in planned)
    return [
        *_dispensed(conn, person_id, classes, earliest, latest),
        *_prescribed(conn, person_id, classes, earliest, latest),
    ]


_ALIKE = ("drug_code", "drug_name", "ingredient", "days", "usage")
"""The fields of ``Course`` named alike in the medication records and the prescriptions."""


def _dispensed(
    conn: Connection, person_id: int, classes: set[str], earliest: dt.date, latest: dt.date
) -> Iterable[Course]:
    m = medications.c
    stmt = select(
        *(m[name] for name in _ALIKE),
        m.prescriber_code.label("institution_code"),
        m.prescriber_name.label("institution_name"),
        m.dispensed_on.label("start_on"),
    ).where(m.person_id == person_id, m.dispensed_on.between(earliest, latest))
    return _of_classes(conn, "dispensed", stmt, classes)


def _prescribed(
    conn: Connection, person_id: int, classes: set[str], earliest: dt.date, latest: dt.date
) -> Iterable[Course]:
    p = prescriptions.c
    stmt = (
        select(
            *(p[name] for name in _ALIKE),
            p.institution_code,
            institutions.c.name.label("institution_name"),
            p.issued_on.label("start_on"),
        )
        .join(institutions, institutions.c.code == p.institution_code)
        .where(p.person_id == person_id, p.issued_on.between(earliest, latest))
    )
    return _of_classes(conn, "prescribed", stmt, classes)


def _of_classes(
    conn: Connection, source: str, stmt: Select[Any], classes: set[str]
) -> Iterable[Course]:
    """The courses ``stmt`` finds of the therapeutic ``classes``; it selects the fields of
    ``Course`` but the source and the last day."""
    drug_code = stmt.selected_columns.drug_code
    for row in conn.execute(stmt.where(func.substr(drug_code, 1, SAME_CLASS).in_(classes))):
        yield Course(source=source, last_day=last_day(row.start_on, row.days), **row._mapping)


def _result(drug: PlannedDrug, courses: Iterable[Course]) -> DrugResult:
    result = DrugResult(drug)
    for course in sorted(courses, key=lambda c: (c.start_on, c.drug_code), reverse=True):
        finding = course.finding(drug)
        if finding is Finding.DUPLICATE:
            result.duplicates.append(course)
        elif finding is Finding.SAME_CLASS:
            result.same_class.append(course)
    return result


def _answer(result: DrugResult, shown: bool) -> dict[str, Any]:
    """One planned drug's answer: every matching course in full when ``shown``, else only the
    ingredients that match (each once), so the answer tells no place, date or drug."""

    def matches(courses: list[Course]) -> list[dict[str, Any]]:
        if shown:
            return [asdict(course) for course in courses]
        ingredients = dict.fromkeys(course.ingredient for course in courses)
        return [{"ingredient": ingredient} for ingredient in ingredients]

    return {
        **_planned_entry(result),
        "duplicates": matches(result.duplicates),
        "same_class": matches(result.same_class),
    }


def _planned_entry(result: DrugResult) -> dict[str, Any]:
    drug = result.planned
    return {
        "drug_code": drug.drug_code,
        "drug_name": _listed_name(drug.drug_code),
        "start_on": drug.start_on,
        "last_day": drug.last_day,
        "days": drug.days,
        "finding": str(result.finding),
    }


def checks_of_person(conn: Connection, person_id: int) -> list[dict[str, Any]]:
    """The duplicate-medication checks made on the person, newest first: when, where, what was
    planned and found (the patient's portal lists them; nothing of other institutions' records)."""
    c = checks.c
    stmt = (
        select(c.checked_at, c.institution_code, institutions.c.name, c.finding, c.planned)
        .join(institutions, institutions.c.code == c.institution_code)
        .where(c.person_id == person_id)
        .order_by(c.checked_at.desc(), c.id.desc())
    )
    return [
        {
            "checked_at": as_utc(row.checked_at),
            "institution_code": row.institution_code,
            "institution_name": row.name,
            "finding": row.finding,
            "drugs": [_dated(drug) for drug in json.loads(row.planned)],
        }
        for row in conn.execute(stmt)
    ]


def _dated(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored planned drug with its dates as dates again."""
    dates = {name: dt.date.fromisoformat(stored[name]) for name in ("start_on", "last_day")}
    return stored | dates


# -- what an institution may read back (the FHIR MedicationRequest view) --------------------------

# what a reader is told of a prescription: not the person, the visit or the staff member
_READABLE = [c for c in prescriptions.c if c.name not in ("person_id", "visit_id", "staff_id")]


@dataclass(frozen=True, slots=True)
class SeenPrescriptions:
    """The prescriptions recorded for a person that an institution may see, newest first, and the
    consent refusal that left other institutions' out (``None`` when they are in)."""

    items: list[dict[str, Any]]
    withheld: ServiceError | None = None


def prescriptions_of_patient(
    ctx: ServiceContext, institution_code: str, visit_id: str
) -> SeenPrescriptions:
    """Every prescription recorded for the visit's patient that the institution may see: its own
    always (it wrote them); other institutions' are medication information (薬剤情報), shown only
    under a live medication consent here. The look is audited as a medication view, shown or
    refused, exactly as ``medical_records`` audits it."""
    visit = own_visit(ctx, visit_id, institution_code)
    p = prescriptions.c
    try:
        allow_look(
            ctx, Look(institution_code, visit.person_id, visit.staff_id, visit.id), "medication"
        )
    except ServiceError as refusal:
        own = _readable(ctx, p.person_id == visit.person_id, p.institution_code == institution_code)
        return SeenPrescriptions(own, refusal)
    return SeenPrescriptions(_readable(ctx, p.person_id == visit.person_id))


def own_prescription(
    ctx: ServiceContext, institution_code: str, prescription_id: str
) -> dict[str, Any]:
    """One prescription the institution recorded, with the visit it was recorded at; another
    institution's is NOT_FOUND here (it is seen only in its patient's list, under the consent)."""
    p = prescriptions.c
    mine = (p.id == prescription_id, p.institution_code == institution_code)
    found = _readable(ctx, *mine, shown=[*_READABLE, p.visit_id])
    if not found:
        raise ServiceError("NOT_FOUND", "no such prescription recorded by this institution")
    return found[0]


def _readable(
    ctx: ServiceContext, *conditions: Any, shown: Sequence[Any] = tuple(_READABLE)
) -> list[dict[str, Any]]:
    """The ``shown`` columns of the prescriptions meeting ``conditions``, with their institution's
    name and last day of use, newest first."""
    p = prescriptions.c
    stmt = (
        select(*shown, institutions.c.name.label("institution_name"))
        .join(institutions, institutions.c.code == p.institution_code)
        .where(*conditions)
        .order_by(p.issued_on.desc(), p.recorded_at.desc(), p.id.desc())
    )
    with ctx.registry.connect() as conn:
        return [
            {
                **row._asdict(),
                "recorded_at": as_utc(row.recorded_at),
                "last_day": last_day(row.issued_on, row.days),
            }
            for row in conn.execute(stmt)
        ]
