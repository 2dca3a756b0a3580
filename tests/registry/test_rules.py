"""Table-driven tests of the eligibility, co-pay and out-of-pocket limit rules (docs/rules.md §2, §3)."""

import datetime as dt

import pytest

from payer_registry.eligibility import (
    IncomeCategory,
    Period,
    Validity,
    age_on,
    copay_ratio,
    elderly_rate_starts,
    preschool_until,
    qualification_validity,
)
from payer_registry.limits import UnknownBracket, monthly_limit

D = dt.date
G, H, U, L = (
    IncomeCategory.GENERAL,
    IncomeCategory.HIGH,
    IncomeCategory.UPPER_MIDDLE,
    IncomeCategory.LOW,
)


@pytest.mark.parametrize(
    ("period", "others", "at", "expected"),
    [
        (Period(D(2020, 4, 1), None), [], D(2020, 4, 1), Validity.VALID),
        (Period(D(2020, 4, 1), None), [], D(2020, 3, 31), Validity.NOT_FOUND),
        (Period(D(2020, 4, 1), D(2024, 7, 1)), [], D(2024, 6, 30), Validity.VALID),
        (Period(D(2020, 4, 1), D(2024, 7, 1)), [], D(2024, 7, 1), Validity.INVALID),
        (
            Period(D(2020, 4, 1), D(2024, 7, 1)),
            [Period(D(2024, 7, 1), None)],
            D(2024, 7, 1),
            Validity.INVALID_NEW_EXISTS,
        ),
        (
            Period(D(2020, 4, 1), D(2024, 7, 1)),
            [Period(D(2024, 8, 1), None)],
            D(2024, 7, 15),
            Validity.INVALID,
        ),
        (
            Period(D(2020, 4, 1), D(2024, 7, 1)),
            [Period(D(2010, 1, 1), D(2020, 4, 1))],
            D(2024, 7, 2),
            Validity.INVALID,
        ),
    ],
)
def test_validity_at_a_date(period, others, at, expected):
    assert qualification_validity(period, [period, *others], at) is expected


@pytest.mark.parametrize(
    ("birth", "last_preschool_day"),
    [
        (D(2018, 5, 10), D(2025, 3, 31)),
        (D(2019, 3, 31), D(2025, 3, 31)),
        (D(2018, 4, 2), D(2025, 3, 31)),
        (D(2019, 4, 1), D(2025, 3, 31)),  # born 1 April: same school year as those born before
        (D(2020, 2, 29), D(2026, 3, 31)),
    ],
)
def test_preschool_ends_on_31_march_after_the_sixth_birthday(birth, last_preschool_day):
    assert preschool_until(birth) == last_preschool_day
    assert copay_ratio(birth, G, last_preschool_day, False) == 20
    assert copay_ratio(birth, G, last_preschool_day + dt.timedelta(days=1), False) == 30


@pytest.mark.parametrize(
    ("birth", "first_day"),
    [
        (D(1955, 6, 15), D(2025, 7, 1)),
        (D(1955, 6, 1), D(2025, 6, 1)),
        (D(1955, 12, 20), D(2026, 1, 1)),
        (D(1956, 2, 29), D(2026, 3, 1)),  # 2026 is a common year: still the month after February
    ],
)
def test_elderly_rate_starts_the_month_after_the_70th_birthday(birth, first_day):
    assert elderly_rate_starts(birth) == first_day
    before = first_day - dt.timedelta(days=1)
    assert copay_ratio(birth, G, before, False) == 30
    assert copay_ratio(birth, G, first_day, False) == 20
    assert copay_ratio(birth, H, first_day, False) == 30


@pytest.mark.parametrize(("income", "expected"), [(G, 10), (L, 10), (U, 20), (H, 30)])
def test_late_stage_elderly_rates(income, expected):
    birth = D(1949, 8, 20)
    assert copay_ratio(birth, income, D(2024, 8, 20), True) == expected
    assert copay_ratio(birth, income, D(2024, 8, 19), False) == (30 if income is H else 20)


def test_age_counts_whole_years():
    assert age_on(D(2000, 2, 29), D(2001, 2, 28)) == 0
    assert age_on(D(2000, 2, 29), D(2001, 3, 1)) == 1
    assert age_on(D(1980, 5, 1), D(2024, 5, 1)) == 44


@pytest.mark.parametrize(
    ("code", "cost", "many", "expected"),
    [
        ("A01", 1_000_000, False, 254_180),
        ("A01", 800_000, False, 252_600),
        ("A02", 600_000, False, 167_820),
        ("A03", 1_000_000, False, 87_430),
        ("A03", 267_050, False, 80_101),  # 0.5 yen rounds half up
        ("A03", 1_000_000, True, 44_400),
        ("A04", 1_000_000, False, 57_600),
        ("A05", 1_000_000, True, 24_600),
        ("A06", 100_000, False, 35_400),
        ("B01", 900_000, False, 253_180),
        ("B04", 300_000, False, 57_600),
        ("B05", 300_000, False, 24_600),
        ("B06", 300_000, False, 15_000),
        ("B09", 300_000, False, 57_600),
    ],
)
def test_monthly_limits(code, cost, many, expected):
    assert monthly_limit(code, cost, many) == expected


def test_outpatient_limits_for_70_and_over():
    assert monthly_limit("B04", 300_000, outpatient=True) == 18_000
    assert monthly_limit("B05", 300_000, outpatient=True) == 8_000
    assert monthly_limit("A03", 300_000, outpatient=True) == 80_430


def test_unknown_bracket_is_refused():
    with pytest.raises(UnknownBracket):
        monthly_limit("Z99", 1000)
