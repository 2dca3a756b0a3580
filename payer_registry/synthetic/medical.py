"""Medical histories from claims and checkups (docs/rules.md §5): medication (薬剤情報, 3 years, lagging about
1.5 months), specific health checkups (特定健診, ages 40-74, yearly, 5 years) with values correlated
with sex, age and BMI, and clinical (診療情報) and surgery (手術情報) records (3 years).

Rows carry neither id nor person id; dates are ISO text, booleans 0/1."""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass
from functools import cache
from typing import Any

from marshmallow import validate

from payer_registry.checkup_items import ITEMS
from payer_registry.eligibility import age_on
from payer_registry.records import CheckupSchema
from payer_registry.synthetic.coverage import YEAR
from payer_registry.synthetic.dates import iso
from payer_registry.synthetic.people import MALE, TOWNS, Resident
from payer_registry.synthetic.reference import (
    Drug,
    Prefecture,
    Procedure,
    Weighted,
    drugs,
    procedures,
)

CLAIMS_LAG = 45  # days: claims reach the registry about a month and a half after the visit
INSTITUTIONS_PER_PREFECTURE = 40
_STEMS = ("さくら", "ひまわり", "あおば", "みどり", "すずらん", "けやき", "つばさ", "やまびこ", "ふれあい", "駅前", "中央", "はなみずき")  # fmt: skip
_DEPARTMENTS = ("内科クリニック", "整形外科", "眼科医院", "耳鼻咽喉科", "皮膚科クリニック", "病院", "医院")  # fmt: skip
_CHRONIC_DAYS = (14, 28, 30, 56, 60, 84, 90)
_ACUTE_DAYS = (7, 7, 10, 14)
# (age limit, share) for: having any medication, clinical records, surgery
_MEDICATION_RATE = ((20, 0.30), (40, 0.35), (65, 0.55), (200, 0.80))
_CLINICAL_RATE = ((40, 0.12), (65, 0.25), (200, 0.40))
_SURGERY_RATE = ((40, 0.01), (65, 0.03), (200, 0.06))
CHECKUP_PARTICIPATION, CHECKUP_YEARLY = 0.55, 0.8


@dataclass(frozen=True, slots=True)
class Institution:
    code: str  # 医療機関コード: prefecture (2) + fee table (1 medical, 4 pharmacy) + 7 digits
    name: str


@dataclass(frozen=True, slots=True)
class Institutions:
    clinics: tuple[Institution, ...]
    pharmacies: tuple[Institution, ...]


@cache
def institutions(prefecture: Prefecture) -> Institutions:
    """A fixed pool of clinics and pharmacies per prefecture (the same on every run)."""
    rng = random.Random(f"institutions:{prefecture.code}")
    numbers = rng.sample(range(10**7), 2 * INSTITUTIONS_PER_PREFECTURE)
    clinics, pharmacies = [], []
    for number in numbers[:INSTITUTIONS_PER_PREFECTURE]:
        city = rng.choice(prefecture.cities)
        name = f"{city[:-1]}{rng.choice(_STEMS)}{rng.choice(_DEPARTMENTS)}"
        clinics.append(Institution(f"{prefecture.code}1{number:07d}", name))
    for number in numbers[INSTITUTIONS_PER_PREFECTURE:]:
        name = f"{rng.choice(_STEMS)}薬局{rng.choice(TOWNS)}店"
        pharmacies.append(Institution(f"{prefecture.code}4{number:07d}", name))
    return Institutions(tuple(clinics), tuple(pharmacies))


def _rate(table: tuple[tuple[int, float], ...], age: int) -> float:
    return next(share for limit, share in table if age < limit)


def _window(resident: Resident, today: int, end: int, years: int) -> tuple[int, int]:
    """First and last day of the records: ``years`` back, after birth, before death, minus the lag."""
    return max(today - years * YEAR, resident.birth), min(end, today - CLAIMS_LAG)


@cache
def _drugs_for(age: int) -> Weighted[Drug]:
    return Weighted.of([(drug, weight) for drug, weight in drugs() if drug.min_age <= age])


def medications(
    rng: random.Random, resident: Resident, pool: Institutions, today: int, end: int
) -> list[tuple]:
    """A regimen of 1-3 drugs dispensed a few times from one prescriber, in-house (院内処方) or at a
    pharmacy; rows in the column order of ``medications``."""
    first, last = _window(resident, today, end, 3)
    if first >= last or rng.random() >= _rate(_MEDICATION_RATE, resident.age):
        return []
    choices = _drugs_for(min(resident.age, 120))
    regimen = [choices.pick(rng) for _ in range(rng.choice((1, 1, 2, 2, 3)))]
    prescriber = rng.choice(pool.clinics)
    in_house = rng.random() < 0.25
    dispenser = prescriber if in_house else rng.choice(pool.pharmacies)
    rows = []
    for _ in range(rng.randint(1, 8)):
        drug = rng.choice(regimen)
        dispensed = rng.randint(first, last)
        prescribed = (
            dispensed if in_house else max(first, dispensed - rng.choice((0, 0, 0, 1, 2, 3)))
        )
        days = rng.choice(_CHRONIC_DAYS if drug.chronic else _ACUTE_DAYS)
        rows.append(
            (iso(dispensed), iso(prescribed), drug.code, drug.name, drug.ingredient, drug.daily_quantity,
             drug.unit, drug.usage, days, dispenser.code, dispenser.name, prescriber.code,
             prescriber.name, int(in_house))
        )  # fmt: skip
    rows.sort()
    return rows


def checkups(
    rng: random.Random, resident: Resident, pool: Institutions, today: int, end: int
) -> list[tuple]:
    """Yearly examinations over five years, only at ages 40-74; rows in the column order of
    ``checkups`` (without id and person id)."""
    if not 40 <= resident.age < 80 or rng.random() >= CHECKUP_PARTICIPATION:
        return []
    male = resident.sex == MALE
    height = rng.gauss(171.0, 5.8) if male else rng.gauss(157.5, 5.3)
    height -= 0.12 * max(resident.age - 45, 0)
    usual_bmi = math.exp(rng.gauss(math.log(23.8 if male else 22.0), 0.13))
    place = rng.choice(pool.clinics).name
    birth = dt.date.fromordinal(resident.birth)
    rows = []
    for years_back in range(4, -1, -1):
        examined = today - 30 - years_back * YEAR - rng.randint(0, 300)
        age = age_on(birth, dt.date.fromordinal(examined))
        if examined < end and 40 <= age <= 74 and rng.random() < CHECKUP_YEARLY:
            rows.append((iso(examined), place, *_examination(rng, male, age, height, usual_bmi)))
    return rows


def _lognormal(rng: random.Random, median: float, spread: float) -> int:
    return round(math.exp(rng.gauss(math.log(max(median, 1.0)), spread)))


def _examination(
    rng: random.Random, male: bool, age: int, height: float, usual_bmi: float
) -> tuple:
    """Items from height to haemoglobin, then the metabolic syndrome judgement (メタボ判定)."""
    bmi = max(15.0, usual_bmi + rng.gauss(0, 0.5))
    excess = bmi - 22
    waist = (2.6 * bmi + 23 if male else 2.5 * bmi + 26) + rng.gauss(0, 3.5)
    systolic = round(92 + 0.55 * age + 1.3 * excess + (4 if male else 0) + rng.gauss(0, 12))
    diastolic = round(0.55 * systolic + 4 + rng.gauss(0, 6))
    triglycerides = _lognormal(rng, 80 + 9 * excess + (25 if male else 0), 0.45)
    hdl = round(max(25.0, (53 if male else 65) - 1.6 * excess + rng.gauss(0, 12)))
    ldl = round(
        max(50.0, 115 + (0 if male else 0.5 * max(age - 50, 0)) + 1.5 * excess + rng.gauss(0, 28))
    )
    glucose = 86 + 0.25 * (age - 40) + 1.6 * excess + rng.gauss(0, 8)
    if rng.random() < 0.02 + 0.002 * (age - 40):  # diabetes
        glucose += rng.uniform(20, 90)
    hba1c = round(5.2 + 0.008 * (age - 40) + 0.025 * (glucose - 90) + rng.gauss(0, 0.2), 1)
    fasting = (
        round(glucose) if rng.random() < 0.7 else None
    )  # otherwise a non-fasting sample: HbA1c only
    measured_waist = round(waist, 1) if rng.random() < 0.99 else None
    values = (
        round(height, 1), round(bmi * (height / 100) ** 2, 1), round(bmi, 1),
        measured_waist, systolic, diastolic, triglycerides, hdl, ldl,
        _lognormal(rng, 19 + 0.5 * excess, 0.25),  # AST
        _lognormal(rng, (19 if male else 14) + 1.8 * excess, 0.4),  # ALT
        _lognormal(rng, 36 if male else 20, 0.55),  # γ-GT
        fasting, hba1c,
        round(max(15.0, 108 - 0.6 * age + rng.gauss(0, 12)), 1),  # eGFR
        "1" if glucose < 170 else rng.choice(("2", "3", "4")),  # urine glucose: 1 (−) … 5 (+++)
        rng.choices(("1", "2", "3", "4"), cum_weights=(90, 96, 99, 100))[0],  # urine protein
        round(rng.gauss(14.6, 1.1) if male else rng.gauss(13.0, 1.0), 1),
    )  # fmt: skip
    measured = _importable(dict(zip(_ITEM_COLUMNS, values, strict=True)))
    judged = (measured[name] for name in _JUDGED)
    return (*measured.values(), metabolic_judgement(male, *judged))


_ITEM_COLUMNS = tuple(item.column for item in ITEMS)


_JUDGED = (
    "waist",
    "triglycerides",
    "hdl",
    "systolic_bp",
    "diastolic_bp",
    "fasting_glucose",
    "hba1c",
)
"""The measures the metabolic syndrome judgement reads, in ``metabolic_judgement``'s order."""


@cache
def _importable_ranges() -> dict[str, validate.Range]:
    """The bounds the importer holds each checkup measure to: those of its schema, never copied."""
    return {
        name: rule
        for name, field in CheckupSchema().fields.items()
        for rule in field.validators
        if isinstance(rule, validate.Range)
    }


def _importable(measured: dict[str, Any]) -> dict[str, Any]:
    """``measured`` with each value clamped to the bounds the importer accepts (a generated outlier
    becomes the nearest value an import takes, so that an export always imports back)."""
    ranges = _importable_ranges()
    return {
        name: min(max(value, ranges[name].min), ranges[name].max)
        if value is not None and name in ranges
        else value
        for name, value in measured.items()
    }


def metabolic_judgement(
    male: bool,
    waist: float | None,
    triglycerides: int,
    hdl: int,
    systolic: int,
    diastolic: int,
    fasting_glucose: int | None,
    hba1c: float,
) -> str:
    """1 met, 2 borderline (予備群), 3 not met, 4 undeterminable: a large waist (85 cm men, 90 cm women)
    with two or more of lipids, blood pressure and glucose is met, with one borderline."""
    if waist is None:
        return "4"
    if waist < (85 if male else 90):
        return "3"
    glucose_high = fasting_glucose >= 110 if fasting_glucose is not None else hba1c >= 6.0
    risks = (triglycerides >= 150 or hdl < 40) + (systolic >= 130 or diastolic >= 85) + glucose_high
    return "1" if risks >= 2 else "2" if risks == 1 else "3"


@cache
def _procedures_for(kind: str, age: int, sex: str) -> Weighted[Procedure]:
    return Weighted.of(
        [
            (p, w)
            for p, w in procedures()
            if p.kind == kind and p.min_age <= age and p.sex in ("", sex)
        ]
    )


def procedure_records(
    rng: random.Random, resident: Resident, pool: Institutions, today: int, end: int
) -> list[tuple]:
    """Clinical (a few) and surgery (rarely) records; rows in the column order of
    ``procedure_records`` (kind, performed_on, code, name, institution code, institution name)."""
    first, last = _window(resident, today, end, 3)
    if first >= last:
        return []
    age = min(resident.age, 120)
    counts = (
        ("clinical", rng.randint(1, 3) if rng.random() < _rate(_CLINICAL_RATE, age) else 0),
        ("surgery", 1 if rng.random() < _rate(_SURGERY_RATE, age) else 0),
    )
    rows = []
    for kind, count in counts:
        choices = _procedures_for(kind, age, resident.sex)
        for _ in range(count):
            procedure, place = choices.pick(rng), rng.choice(pool.clinics)
            performed = iso(rng.randint(first, last))
            rows.append((kind, performed, procedure.code, procedure.name, place.code, place.name))
    rows.sort(key=lambda row: row[1])
    return rows
