"""Certificates held beside the qualification: elderly (高齢受給者証, 70-74), limit (限度額適用認定証)
and specific disease (特定疾病療養受療証). Rows carry neither id nor person id."""

from __future__ import annotations

import datetime as dt
import random

from payer_registry.eligibility import IncomeCategory, copay_ratio, elderly_rate_starts
from payer_registry.limits import bracket_for
from payer_registry.synthetic.coverage import YEAR, Coverage, anniversary
from payer_registry.synthetic.dates import iso

LIMIT_CERTIFICATE_RATE = 0.03
# Of the certificates that reduce the meal cost, those after a long hospital stay (長期入院).
LONG_TERM_RATE = 0.1
ISSUED_AHEAD = 14  # days: an elderly certificate is sent two weeks before it takes effect
# category (1 dialysis, 2 haemophilia, 3 HIV from blood products), rate under 60, rate from 60
_DISEASES = (("1", 0.0015, 0.006), ("2", 0.0001, 0.0001), ("3", 0.00003, 0.00003))


def certificate_year(today: int) -> tuple[int, int]:
    """Certificates run from 1 August to 31 July: the period containing ``today`` (ordinals)."""
    day = dt.date.fromordinal(today)
    year = day.year if day.month >= 8 else day.year - 1
    return dt.date(year, 8, 1).toordinal(), dt.date(year + 1, 7, 31).toordinal()


def elderly_certificates(cover: Coverage, today: int) -> list[tuple]:
    """(copay_ratio, valid_from, valid_until, issued_on) for a living 70-74-year-old outside the
    late-stage system; the ratio is the one in force when the certificate starts, and it is issued
    two weeks before that (never after the reference date)."""
    resident = cover.resident
    if not 70 <= resident.age < 75 or cover.late_stage or cover.died_on is not None:
        return []
    starts, ends = certificate_year(today)
    birth = dt.date.fromordinal(resident.birth)
    valid_from = max(starts, elderly_rate_starts(birth).toordinal())
    valid_until = min(ends, anniversary(resident.birth, 75) - 1)
    ratio = copay_ratio(birth, cover.income, dt.date.fromordinal(valid_from), late_stage=False)
    issued = min(valid_from - ISSUED_AHEAD, today)
    return [(ratio, iso(valid_from), iso(valid_until), iso(issued))]


def limit_certificates(rng: random.Random, cover: Coverage, today: int) -> list[tuple]:
    """(classification, bracket_code, valid_from, valid_until, issued_on, long_term_on) for a few
    living persons; the bracket follows age and income, and low income gets the reduced standard
    meal cost too (02), some of them after a long hospital stay. Issued on the day it starts."""
    age = cover.resident.age
    general_70 = age >= 70 and cover.income in (IncomeCategory.GENERAL, IncomeCategory.UPPER_MIDDLE)
    if cover.died_on is not None or general_70 or rng.random() >= LIMIT_CERTIFICATE_RATE:
        return []  # 70+ on the general bracket need no certificate: the card itself shows it
    starts, ends = certificate_year(today)
    classification = "02" if cover.income == IncomeCategory.LOW else "01"
    bracket = bracket_for(age, cover.income, rng.randrange(5))
    valid_from = max(starts, cover.spans[-1].acquired)
    long_term = None
    if classification == "02" and valid_from < today and rng.random() < LONG_TERM_RATE:
        long_term = iso(rng.randint(valid_from + 1, today))
    return [(classification, bracket, iso(valid_from), iso(ends), iso(valid_from), long_term)]


def specific_disease_certificates(rng: random.Random, cover: Coverage, today: int) -> list[tuple]:
    """(category, self_pay_limit, valid_from, valid_until, issued_on): dialysis pays 10,000 yen a
    month, or 20,000 for high earners under 70 (上位所得者); haemophilia and HIV 10,000. Issued on
    the day it starts."""
    resident = cover.resident
    rows = []
    for category, young_rate, old_rate in _DISEASES:
        if rng.random() < (old_rate if resident.age >= 60 else young_rate):
            high = category == "1" and resident.age < 70 and cover.income == IncomeCategory.HIGH
            since = max(resident.birth, today - rng.randint(30, 10 * YEAR))
            rows.append((category, 20_000 if high else 10_000, iso(since), None, iso(since)))
    return rows
