"""Households (世帯) of synthetic people: ages shaped like Japan's pyramid, names with kana, addresses.

Dates are day ordinals (``datetime.date.toordinal``) while generating: cheap to compare and shift."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from payer_registry.eligibility import age_on
from payer_registry.synthetic.reference import (
    Prefecture,
    Weighted,
    family_names,
    given_names,
    prefectures,
)

FULL_WIDTH_SPACE = "\u3000"
MALE, FEMALE = "1", "2"
TOWNS = (
    "本町", "栄町", "緑町", "旭町", "中央", "桜丘", "若葉", "東町", "西町", "南町", "北町", "新町",
    "宮前", "泉町", "錦町", "幸町", "大和町", "松原", "日吉町", "春日", "青葉台", "富士見", "港町", "元町",
)  # fmt: skip

# Japan's population by 5-year age band (millions, 2023), and the share of each band heading a
# household: heads are drawn from it and children fill the young bands.
_HEAD_AGES = Weighted.of(
    [
        ((lo, lo + 4), pop * share)
        for lo, pop, share in (
            (20, 6.2, 0.50), (25, 6.3, 0.60), (30, 6.5, 0.55), (35, 7.3, 0.55), (40, 8.1, 0.55),
            (45, 9.6, 0.55), (50, 9.4, 0.55), (55, 8.0, 0.55), (60, 7.4, 0.55), (65, 7.7, 0.55),
            (70, 9.1, 0.50), (75, 7.1, 0.50), (80, 5.9, 0.55), (85, 4.1, 0.6), (90, 1.9, 0.65),
            (95, 0.6, 0.65),
        )
    ]
)  # fmt: skip

SINGLE, COUPLE, COUPLE_KIDS, PARENT_KIDS, COUPLE_ADULT_CHILD, THREE_GENERATIONS = range(6)
_KINDS_BY_HEAD_AGE = (
    (30, Weighted.of([(SINGLE, 55), (COUPLE, 20), (COUPLE_KIDS, 20), (PARENT_KIDS, 5)])),
    (50, Weighted.of([(SINGLE, 25), (COUPLE, 15), (COUPLE_KIDS, 50), (PARENT_KIDS, 10)])),
    (65, Weighted.of([(SINGLE, 25), (COUPLE, 30), (COUPLE_KIDS, 35), (PARENT_KIDS, 5), (THREE_GENERATIONS, 5)])),
    (75, Weighted.of([(SINGLE, 30), (COUPLE, 55), (COUPLE_ADULT_CHILD, 15)])),
    (200, Weighted.of([(SINGLE, 45), (COUPLE, 55)])),
)  # fmt: skip
_CHILD_COUNT = Weighted.of([(1, 40), (2, 45), (3, 15)])


@dataclass(slots=True)
class Resident:
    index: int  # global person index; the person's id is index + 1
    sex: str
    birth: int  # date ordinal
    age: int  # whole years at the reference date
    name: str
    kana: str


@dataclass(slots=True)
class Household:
    residents: list[Resident]  # the head first
    prefecture: Prefecture
    city: int  # index into prefecture.cities
    address: str
    post_code: str  # 郵便番号 of the address: the city's area and the town's number


def draw_household(rng: random.Random, first_index: int, limit: int, today: int) -> Household:
    """One household of at most ``limit`` residents whose indexes start at ``first_index``."""
    head_sex, ages, with_spouse = _composition(rng)
    family = family_names().pick(rng)
    residents = []
    for offset, age in enumerate(ages[:limit]):
        sex = _member_sex(rng, head_sex, offset, with_spouse)
        residents.append(_resident(rng, first_index + offset, sex, age, family, today))
    prefecture = prefectures().pick(rng)
    city = rng.randrange(len(prefecture.cities))
    return Household(residents, prefecture, city, *_address(rng, prefecture, city))


def _composition(rng: random.Random) -> tuple[str, list[int], bool]:
    """The head's sex, every resident's age (head first, then any spouse, then others), and whether
    the second resident is the head's spouse."""
    low, high = _HEAD_AGES.pick(rng)
    head = rng.randint(low, high)
    kind = next(kinds for bound, kinds in _KINDS_BY_HEAD_AGE if head < bound).pick(rng)
    if kind == SINGLE:
        return (FEMALE if rng.random() < (0.65 if head >= 75 else 0.45) else MALE), [head], False
    if kind == PARENT_KIDS:
        kids = _children(rng, head, 0, 22)
        return (FEMALE if rng.random() < 0.85 else MALE), [head, *kids], False
    ages = [head, max(18, head + round(rng.gauss(-2, 3)))]
    if kind == COUPLE_KIDS:
        ages += _children(rng, head, 0, 22)
    elif kind == COUPLE_ADULT_CHILD:
        ages += _children(rng, head, 20, 50)[:1]
    elif kind == THREE_GENERATIONS:
        ages.append(min(head + rng.randint(24, 36), 100))
    return (MALE if rng.random() < 0.85 else FEMALE), ages, True


def _children(rng: random.Random, parent_age: int, youngest: int, oldest: int) -> list[int]:
    ages = (parent_age - rng.randint(24, 40) for _ in range(_CHILD_COUNT.pick(rng)))
    return sorted((age for age in ages if youngest <= age <= oldest), reverse=True)


def _member_sex(rng: random.Random, head_sex: str, offset: int, with_spouse: bool) -> str:
    if offset == 0:
        return head_sex
    if offset == 1 and with_spouse:
        return FEMALE if head_sex == MALE else MALE
    return MALE if rng.random() < 0.51 else FEMALE


def _resident(
    rng: random.Random, index: int, sex: str, age: int, family: tuple[str, str], today: int
) -> Resident:
    birth = today - int((age + rng.random()) * 365.2425)
    birth_date = dt.date.fromordinal(birth)
    era = "old" if birth_date.year < 1960 else "mid" if birth_date.year < 1990 else "young"
    given, given_kana = rng.choice(given_names()[(sex, era)])
    return Resident(
        index=index,
        sex=sex,
        birth=birth,
        age=age_on(birth_date, dt.date.fromordinal(today)),
        name=f"{family[0]}{FULL_WIDTH_SPACE}{given}",
        kana=f"{family[1]}{FULL_WIDTH_SPACE}{given_kana}",
    )


def _address(rng: random.Random, prefecture: Prefecture, city: int) -> tuple[str, str]:
    """The address and its post code: one code a town (町域), so neighbours share it."""
    block = f"{rng.randint(1, 5)}-{rng.randint(1, 30)}-{rng.randint(1, 20)}"
    town = rng.randrange(len(TOWNS))
    address = f"{prefecture.name}{prefecture.cities[city]}{TOWNS[town]}{block}"
    return address, post_code(prefecture.post_codes[city], town)


def post_code(area: str, town: int) -> str:
    """``NNN-NNNN``: the city's three-digit area, then a town number from 0001 to 0100 that differs
    for each of the ``TOWNS`` (37 is prime to 100)."""
    return f"{area}-{(37 * town + int(area)) % 100 + 1:04d}"
