"""Eligibility at a date (資格確認) and the co-pay ratio (一部負担金割合), docs/rules.md §2."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

JAPAN = ZoneInfo("Asia/Tokyo")


class Validity(StrEnum):
    VALID = "valid"  # 1 有効
    INVALID = "invalid"  # 2 無効
    INVALID_NEW_EXISTS = "invalid_new_exists"  # 3 無効（新しい資格あり）
    NOT_FOUND = "not_found"  # 4 該当資格なし
    MULTIPLE = "multiple"  # 5 複数該当


VALIDITY_CODES: dict[Validity, str] = {
    Validity.VALID: "1",
    Validity.INVALID: "2",
    Validity.INVALID_NEW_EXISTS: "3",
    Validity.NOT_FOUND: "4",
    Validity.MULTIPLE: "5",
}
"""The real system's code for each validity (資格有効性)."""

RELATIONSHIP_CODES: dict[str, str] = {"self": "1", "family": "2"}
"""The real system's code for the relationship to the insured (本人・家族の別): 1 本人, 2 家族."""


class IncomeCategory(StrEnum):
    """Income category as the payer records it; decides brackets and the 70+ co-pay."""

    HIGH = "high"  # 現役並み所得
    UPPER_MIDDLE = "upper_middle"  # 一定以上所得 (75+ at 20%)
    GENERAL = "general"  # 一般
    LOW = "low"  # 住民税非課税 (低所得)


def today_in_japan() -> dt.date:
    return dt.datetime.now(JAPAN).date()


def is_active(acquired_on: dt.date, lost_on: dt.date | None, at: dt.date) -> bool:
    return acquired_on <= at and (lost_on is None or at < lost_on)


@dataclass(frozen=True, slots=True)
class Period:
    acquired_on: dt.date
    lost_on: dt.date | None


def qualification_validity(
    record: Period, person_history: Sequence[Period], at: dt.date
) -> Validity:
    """Validity of one qualification record, given every qualification of the same person."""
    if is_active(record.acquired_on, record.lost_on, at):
        return Validity.VALID
    if record.acquired_on > at:
        return Validity.NOT_FOUND
    newer_valid = any(
        other.acquired_on >= record.acquired_on and is_active(other.acquired_on, other.lost_on, at)
        for other in person_history
        if other != record
    )
    return Validity.INVALID_NEW_EXISTS if newer_valid else Validity.INVALID


def age_on(birth_date: dt.date, at: dt.date) -> int:
    """Age in whole years on ``at`` (a person born on 29 February ages on 1 March in common years)."""
    years = at.year - birth_date.year
    return years - ((at.month, at.day) < (birth_date.month, birth_date.day))


def preschool_until(birth_date: dt.date) -> dt.date:
    """Last day of the preschool 20% rate: 31 March after the 6th birthday (義務教育就学前)."""
    sixth = _add_years(birth_date, 6)
    year = sixth.year if (sixth.month, sixth.day) <= (3, 31) else sixth.year + 1
    # Born on 1 April: the school year starts the day they turn 6, so the rate ends the day before.
    if (birth_date.month, birth_date.day) == (4, 1):
        year = sixth.year
    return dt.date(year, 3, 31)


def elderly_rate_starts(birth_date: dt.date) -> dt.date:
    """First day of the 70-74 rate: the 1st of the month after the 70th birthday, or the birthday when
    born on the 1st. The month is the birth month even for a birthday on 29 February in a common year
    (the law ages a person at the end of the day before the birthday: 28 February), so the rate starts
    on 1 March, not 1 April."""
    birth_month = dt.date(birth_date.year + 70, birth_date.month, 1)
    return birth_month if birth_date.day == 1 else _first_of_next_month(birth_month)


def copay_ratio(birth_date: dt.date, income: IncomeCategory, at: dt.date, late_stage: bool) -> int:
    """Co-pay percentage (10, 20 or 30) at ``at``; ``late_stage`` means law code 39 (75+)."""
    if at <= preschool_until(birth_date):
        return 20
    if late_stage or age_on(birth_date, at) >= 75:
        return {IncomeCategory.HIGH: 30, IncomeCategory.UPPER_MIDDLE: 20}.get(income, 10)
    if at >= elderly_rate_starts(birth_date):
        return 30 if income == IncomeCategory.HIGH else 20
    return 30


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a common year
        return dt.date(day.year + years, 3, 1)


def _first_of_next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
