"""Out-of-pocket limit brackets (限度額適用区分) and the monthly limit (高額療養費), docs/rules.md §3."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True, slots=True)
class Bracket:
    code: str
    label: str
    base: int  # yen; the whole limit when there is no 1% term
    threshold: int | None  # medical cost above which 1% is added
    many_times: int | None  # from the 4th time in 12 months (多数回該当)
    outpatient: int | None = None  # 70+ outpatient limit per person (外来)
    outpatient_yearly: int | None = None


def _sliding(code: str, label: str, base: int, threshold: int, many: int) -> Bracket:
    return Bracket(code, label, base, threshold, many)


_B04 = Bracket("B04", "一般", 57_600, None, 44_400, 18_000, 144_000)
_B06 = Bracket("B06", "低所得Ⅰ", 15_000, None, None, 8_000)

BRACKETS: dict[str, Bracket] = {
    b.code: b
    for b in (
        _sliding("A01", "ア", 252_600, 842_000, 140_100),
        _sliding("A02", "イ", 167_400, 558_000, 93_000),
        _sliding("A03", "ウ", 80_100, 267_000, 44_400),
        Bracket("A04", "エ", 57_600, None, 44_400),
        Bracket("A05", "オ", 35_400, None, 24_600),
        # The simulator's assumption: オ（境） as オ.
        Bracket("A06", "オ（境）", 35_400, None, 24_600),
        _sliding("B01", "現役並みⅢ", 252_600, 842_000, 140_100),
        _sliding("B02", "現役並みⅡ", 167_400, 558_000, 93_000),
        _sliding("B03", "現役並みⅠ", 80_100, 267_000, 44_400),
        _B04,
        Bracket("B05", "低所得Ⅱ", 24_600, None, None, 8_000),
        _B06,
        # The simulator's assumption: the later brackets follow B06 and B04.
        Bracket("B07", "低所得Ⅰ（老福）", _B06.base, None, None, _B06.outpatient),
        Bracket("B08", "低所得Ⅰ（境）", _B06.base, None, None, _B06.outpatient),
        Bracket("B09", "一般Ⅱ", _B04.base, None, 44_400, _B04.outpatient, _B04.outpatient_yearly),
        Bracket("B10", "一般Ⅰ", _B04.base, None, 44_400, _B04.outpatient, _B04.outpatient_yearly),
    )
}

CERTIFICATE_CLASSIFICATIONS = {
    "01": "限度額適用認定証",
    "02": "限度額適用・標準負担額減額認定証",
    "03": "標準負担額減額認定証",
}
MEAL_COST_REDUCED = ("02", "03")
"""The classifications that reduce the standard meal cost (標準負担額減額): only these carry the date
from which a long hospital stay (長期入院, over 90 days in 12 months) reduces it further."""


class UnknownBracket(ValueError):
    pass


def bracket(code: str) -> Bracket:
    try:
        return BRACKETS[code]
    except KeyError:
        raise UnknownBracket(f"unknown limit bracket {code!r}") from None


def monthly_limit(
    code: str, medical_cost: int, many_times: bool = False, outpatient: bool = False
) -> int:
    """The month's out-of-pocket limit in yen for a bracket, the month's total medical cost and the
    many-times flag; ``outpatient`` gives the 70+ per-person outpatient limit where one exists."""
    if medical_cost < 0:
        raise ValueError("medical cost cannot be negative")
    b = bracket(code)
    if outpatient and b.outpatient is not None:
        return b.outpatient
    if many_times and b.many_times is not None:
        return b.many_times
    if b.threshold is None:
        return b.base
    extra = Decimal(max(medical_cost - b.threshold, 0)) / 100
    return b.base + int(extra.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def bracket_for(age: int, income: str, monthly_income_band: int) -> str:
    """The bracket consistent with age and income; ``monthly_income_band`` 0-4 splits the under-70
    general band (0 = lowest). Used by the synthetic population."""
    if age >= 70:
        if income == "high":
            return ("B03", "B02", "B01")[min(monthly_income_band, 2)]
        if income == "low":
            return "B05" if monthly_income_band else "B06"
        return "B04"
    if income == "high":
        return ("A02", "A01")[min(monthly_income_band, 1)]
    if income == "low":
        return "A05"
    return "A03" if monthly_income_band >= 2 else "A04"
