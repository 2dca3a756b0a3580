"""Who is insured where: card units (one card number per household, branches per member), the
late-stage elderly (75+, law code 39, one card each), income categories, job changes (転職) with and
without the new insurer's registration yet (the lag), public assistance and deaths.

Card numbers are derived from the global index of the card holder (the unit's head), so every
individualized insured number is unique by construction across batches."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from functools import cache

from payer_registry.eligibility import IncomeCategory
from payer_registry.identifiers import InsuredNumber, insurer_kind
from payer_registry.synthetic.insurers import Catalogue, InsurerInfo, catalogue
from payer_registry.synthetic.people import Household, Resident
from payer_registry.synthetic.reference import Weighted

LATE_STAGE_START = dt.date(2008, 4, 1).toordinal()  # the late-stage elderly system began
YEAR = 365
DEATH, PUBLIC_ASSISTANCE, OTHER_INSURANCE, OTHER = "01", "02", "03", "99"  # 喪失事由

_INCOME_UNDER_70 = Weighted.of(
    [(IncomeCategory.HIGH, 8), (IncomeCategory.UPPER_MIDDLE, 22), (IncomeCategory.GENERAL, 55), (IncomeCategory.LOW, 15)]
)  # fmt: skip
_INCOME_FROM_70 = Weighted.of(
    [(IncomeCategory.HIGH, 7), (IncomeCategory.UPPER_MIDDLE, 20), (IncomeCategory.GENERAL, 45), (IncomeCategory.LOW, 28)]
)  # fmt: skip
_EMPLOYEE_KINDS = Weighted.of([("national_association", 52), ("society", 37), ("mutual_aid", 11)])
JOB_CHANGE_RATE, LAG_RATE, PUBLIC_ASSISTANCE_RATE = 0.04, 0.01, 0.02
# Card classifications (被保険者証区分) and how often the rarer ones are drawn where they apply.
GENERAL, SHORT_TERM, SHORT_TERM_RETIREE, SPECIAL_RETIREE, SELF_DEFENSE_FORCES = (
    "01", "03", "04", "06", "07",
)  # fmt: skip
SHORT_TERM_RATE = 0.01  # of National Health Insurance cards
SPECIAL_RETIREE_RATE = 0.15  # of society cards held at 60-74
SELF_DEFENSE_FORCES_RATE = 0.05  # of law code 31 cards held at 18-59
RETIREE_SYSTEM_END = dt.date(2020, 4, 1).toordinal()  # the last retirees (退職被保険者) turned 65
_RENEWED_YEARLY = ("national_health_insurance", "late_stage_elderly")


@dataclass(slots=True)
class Span:
    """One qualification (資格) of one person under one card."""

    insured: InsuredNumber
    relationship: str
    classification: str
    insured_name: str
    acquired: int  # date ordinal
    lost: int | None = None
    reason: str | None = None


@dataclass(slots=True)
class Coverage:
    resident: Resident
    income: IncomeCategory
    spans: list[Span]  # oldest first
    died_on: int | None = None

    @property
    def late_stage(self) -> bool:
        return insurer_kind(self.spans[-1].insured.insurer) == "late_stage_elderly"


def cover_household(rng: random.Random, household: Household, today: int) -> list[Coverage]:
    """Coverage for every resident, in the household's order."""
    cat = catalogue()
    by_index = {}
    under_75 = [r for r in household.residents if r.age < 75]
    for resident in household.residents:
        if resident.age >= 75:
            by_index[resident.index] = _late_stage(rng, cat, resident, household, today)
    if under_75:
        for cover in _card_unit(rng, cat, under_75, household, today):
            by_index[cover.resident.index] = cover
    covers = [by_index[r.index] for r in household.residents]
    for cover in covers:
        _maybe_die(rng, cover, today)
    return covers


def anniversary(birth: int, years: int) -> int:
    """The ordinal of the ``years``-th birthday (29 February counts from 1 March in common years)."""
    day = dt.date.fromordinal(birth)
    try:
        return day.replace(year=day.year + years).toordinal()
    except ValueError:
        return dt.date(day.year + years, 3, 1).toordinal()


def _income(rng: random.Random, age: int) -> IncomeCategory:
    return (_INCOME_FROM_70 if age >= 70 else _INCOME_UNDER_70).pick(rng)


def _late_stage(
    rng: random.Random, cat: Catalogue, resident: Resident, household: Household, today: int
) -> Coverage:
    """後期高齢者医療: an individual card from the 75th birthday; a recent 75th birthday keeps the
    National Health Insurance record it ended."""
    turned_75 = anniversary(resident.birth, 75)
    periods = []
    if turned_75 > today - 3 * YEAR:
        nhi = cat.nhi[household.prefecture.code][household.city]
        joined = max(turned_75 - rng.randint(YEAR, 10 * YEAR), anniversary(resident.birth, 20))
        periods.append(Period(nhi, joined, turned_75, OTHER))
    periods.append(
        Period(cat.late_stage[household.prefecture.code], max(turned_75, LATE_STAGE_START))
    )
    spans = [span for p in periods for span in _issue(rng, p, household, [resident], "01") if span]
    return Coverage(resident, _income(rng, resident.age), spans)


@dataclass(frozen=True, slots=True)
class Period:
    """A card's period under one insurer, before the members' own birth dates are applied."""

    insurer: InsurerInfo
    start: int
    end: int | None = None
    reason: str | None = None


def _card_unit(
    rng: random.Random, cat: Catalogue, members: list[Resident], household: Household, today: int
) -> list[Coverage]:
    """The members under 75 share one card; its holder is the oldest."""
    members = sorted(members, key=lambda r: -r.age)
    insurer = _unit_insurer(rng, cat, members[0].age, household)
    nhi = insurer.kind == "national_health_insurance"
    short_term = nhi and rng.random() < SHORT_TERM_RATE
    periods = _card_periods(rng, cat, insurer, members, household, today)
    classification = _classification(rng, insurer, members[0].age, periods, short_term, today)
    spans: list[list[Span]] = [[] for _ in members]
    for period in periods:
        for own, span in zip(
            spans, _issue(rng, period, household, members, classification), strict=True
        ):
            if span is not None:
                own.append(span)
    income = _income(rng, members[0].age)
    return [Coverage(m, income, own) for m, own in zip(members, spans, strict=True)]


def _classification(
    rng: random.Random,
    insurer: InsurerInfo,
    age: int,
    periods: list[Period],
    short_term: bool,
    today: int,
) -> str:
    """The card classification (被保険者証区分) of a card unit, from its holder's age and insurer:
    short-term National Health Insurance cards (短期証) are 03, or 04 for a retiree (60-64) while the
    retiree system (退職者医療制度) still ran; some 60-74-year-olds who keep their old employer's
    society's insurance are special retirees (特例退職, 06), but not after a job change; a very few
    national civil servants' cards (law code 31) are a Self-Defense Forces member's (自衛官診療証, 07,
    the holder's only). Everyone else 01."""
    if short_term:
        return SHORT_TERM_RETIREE if 60 <= age < 65 and today < RETIREE_SYSTEM_END else SHORT_TERM
    only_period = len(periods) == 1 and periods[0].end is None
    if insurer.kind == "society" and 60 <= age < 75 and only_period:
        return SPECIAL_RETIREE if rng.random() < SPECIAL_RETIREE_RATE else GENERAL
    if insurer.number.startswith("31") and 18 <= age < 60 and only_period:
        return SELF_DEFENSE_FORCES if rng.random() < SELF_DEFENSE_FORCES_RATE else GENERAL
    return GENERAL


def card_dates(
    insurer: str, classification: str, acquired: int, lost: int | None, today: int
) -> tuple[int, int | None]:
    """(交付年月日, 有効終了日) of a qualification's card; dates are day ordinals. The card is valid
    from the day it was issued.

    Employees' insurers issue a card when the qualification is acquired and it runs with no end
    date. National Health Insurance and the late-stage system reissue every card each 1 August
    (一斉更新); short-term cards run for six months, from 1 February or 1 August, and carry the last
    day. A card is issued on acquisition or at the latest renewal before the reference date (or
    before the loss): the simulator's assumptions."""
    latest = today if lost is None else min(today, lost - 1)
    if classification in (SHORT_TERM, SHORT_TERM_RETIREE):
        issued = max(acquired, _renewal(latest, (2, 8)))
        return issued, _renewal(issued, (2, 8), following=True) - 1
    if insurer_kind(insurer) in _RENEWED_YEARLY:
        return max(acquired, _renewal(latest, (8,))), None
    return acquired, None


@cache
def _renewal(day: int, months: tuple[int, ...], following: bool = False) -> int:
    """The last 1st of one of ``months`` on or before ``day`` (or the first one after it)."""
    date = dt.date.fromordinal(day)
    starts = [dt.date(date.year + shift, month, 1) for shift in (-1, 0, 1) for month in months]
    if following:
        return min(start for start in starts if start > date).toordinal()
    return max(start for start in starts if start <= date).toordinal()


def _card_periods(
    rng: random.Random,
    cat: Catalogue,
    insurer: InsurerInfo,
    members: list[Resident],
    household: Household,
    today: int,
) -> list[Period]:
    """The card's history: mostly one open period; a job change ends it with loss reason 03 and opens
    one under another insurer, except in the lag case; some National Health Insurance cards end with
    public assistance (02). Events predate every member's birth, so nobody is left uninsured."""
    holder = members[0]
    adult = anniversary(holder.birth, 18)
    joined = max(today - rng.randint(30, 15 * YEAR), adult)
    youngest = max(m.birth for m in members)
    roll = rng.random()
    if 20 <= holder.age < 65 and roll < JOB_CHANGE_RATE + LAG_RATE:
        lag = roll < LAG_RATE
        changed = today - (rng.randint(1, 60) if lag else rng.randint(30, 2 * YEAR))
        started = max(changed - rng.randint(180, 10 * YEAR), adult)
        if youngest < started < changed:
            old = Period(insurer, started, changed, OTHER_INSURANCE)
            return (
                [old]
                if lag
                else [old, Period(_other_employer(rng, cat, insurer, household), changed)]
            )
    elif insurer.kind == "national_health_insurance" and roll < PUBLIC_ASSISTANCE_RATE:
        ended = today - rng.randint(30, 3 * YEAR)
        if youngest < joined < ended:
            return [Period(insurer, joined, ended, PUBLIC_ASSISTANCE)]
    return [Period(insurer, joined)]


def _issue(
    rng: random.Random,
    period: Period,
    household: Household,
    members: list[Resident],
    classification: str,
) -> list[Span | None]:
    """The card of ``period`` for each member (None for a member born after it ended); the first
    member holds it (本人) and the others are family (家族), branches (枝番) counting on."""
    insurer, holder = period.insurer, members[0]
    symbol = _symbol(rng, insurer, household)
    number = (
        f"{holder.index + 1:08d}" if insurer.kind == "late_stage_elderly" else str(holder.index + 1)
    )
    spans: list[Span | None] = []
    family_classification = GENERAL if classification == SELF_DEFENSE_FORCES else classification
    for k, member in enumerate(members):
        acquired = max(period.start, member.birth)
        if period.end is not None and acquired >= period.end:
            spans.append(None)
            continue
        insured = InsuredNumber(insurer.number, symbol, number, f"{insurer.self_branch + k:02d}")
        relationship = "self" if k == 0 else "family"
        spans.append(
            Span(
                insured,
                relationship,
                classification if k == 0 else family_classification,
                holder.name,
                acquired,
                period.end,
                period.reason,
            )
        )
    return spans


def _symbol(rng: random.Random, insurer: InsurerInfo, household: Household) -> str:
    """The card symbol (記号) in the style of each kind of insurer; late-stage cards have none."""
    kind = insurer.kind
    if kind == "national_association":
        return str(rng.randrange(10**7, 10**8))
    if kind == "society":
        return str(rng.randint(1, 999))
    if kind == "mutual_aid":
        return f"{rng.randint(1, 99):02d}-{rng.randint(1, 999):03d}"
    if kind == "national_health_insurance":
        return f"{household.prefecture.cities[household.city][:-1]}{rng.randint(1, 99)}"
    return ""


def _unit_insurer(
    rng: random.Random, cat: Catalogue, age: int, household: Household
) -> InsurerInfo:
    """Employees (被用者保険) or National Health Insurance, by the card holder's age."""
    if rng.random() < (0.72 if age < 65 else 0.2):
        return _employer(rng, cat, _EMPLOYEE_KINDS.pick(rng), household)
    return cat.nhi[household.prefecture.code][household.city]


def _employer(rng: random.Random, cat: Catalogue, kind: str, household: Household) -> InsurerInfo:
    if kind == "national_association":
        return cat.association[household.prefecture.code]
    return rng.choice([e for e in cat.employers if e.kind == kind])


def _other_employer(
    rng: random.Random, cat: Catalogue, previous: InsurerInfo, household: Household
) -> InsurerInfo:
    """The new employer's insurer after a job change: any employee insurer but the previous one."""
    local = cat.association[household.prefecture.code]
    choices = [e for e in (local, *cat.employers) if e.number != previous.number]
    return rng.choice(choices)


def _maybe_die(rng: random.Random, cover: Coverage, today: int) -> None:
    """Deaths in the last three years end the last qualification the day after (loss reason 01)."""
    age = cover.resident.age
    rate = 0.04 if age >= 75 else 0.01 if age >= 65 else 0.001
    last = cover.spans[-1]
    if last.lost is not None or rng.random() >= rate:
        return
    earliest = max(last.acquired, today - 3 * YEAR)
    if earliest < today - 1:
        cover.died_on = rng.randint(earliest, today - 1)
        last.lost, last.reason = cover.died_on + 1, DEATH
