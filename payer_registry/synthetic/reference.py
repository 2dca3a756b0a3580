"""The bundled reference data of the synthetic population (``payer_registry/data/*.csv``).

Each table is read once per process and kept as immutable tuples, ready for weighted draws."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from pathlib import Path
from typing import Generic, TypeVar

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Weighted(Generic[T]):
    """Items with cumulative weights, for one weighted draw at a time."""

    items: tuple[T, ...]
    cumulative: tuple[float, ...]

    @classmethod
    def of(cls, pairs: list[tuple[T, float]]) -> Weighted[T]:
        return cls(tuple(item for item, _ in pairs), tuple(accumulate(w for _, w in pairs)))

    def pick(self, rng: random.Random) -> T:
        return rng.choices(self.items, cum_weights=self.cumulative)[0]


@dataclass(frozen=True, slots=True)
class Prefecture:
    code: str
    name: str
    cities: tuple[str, ...]
    post_codes: tuple[str, ...]  # the first three digits of each city's post codes (郵便番号)


@dataclass(frozen=True, slots=True)
class Drug:
    """A generic drug as dispensed: YJ-like code, name with maker (屋号), ingredient (一般名)."""

    code: str
    name: str
    ingredient: str
    unit: str
    daily_quantity: float
    usage: str
    chronic: bool
    min_age: int


@dataclass(frozen=True, slots=True)
class Procedure:
    kind: str  # "clinical" (診療情報) or "surgery" (手術情報)
    code: str
    name: str
    min_age: int
    sex: str  # "" for either


@dataclass(frozen=True, slots=True)
class EmployerInsurer:
    law_code: str
    prefecture: str
    insurer: str
    name: str


def _read(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@cache
def prefectures() -> Weighted[Prefecture]:
    """Prefectures weighted by population (2020 census, thousands), with three cities each and the
    three-digit area of each city's post codes."""
    return Weighted.of(
        [
            (
                Prefecture(
                    r["code"],
                    r["name"],
                    tuple(r["cities"].split(";")),
                    tuple(r["post_codes"].split(";")),
                ),
                float(r["population_thousands"]),
            )
            for r in _read("prefectures.csv")
        ]
    )


@cache
def family_names() -> Weighted[tuple[str, str]]:
    """Common family names (姓) with their katakana reading, weighted by frequency."""
    return Weighted.of(
        [((r["name"], r["kana"]), float(r["weight"])) for r in _read("family_names.csv")]
    )


@cache
def given_names() -> dict[tuple[str, str], tuple[tuple[str, str], ...]]:
    """Given names (名) with kana by (sex, era): era "old" (born before 1960), "mid", "young" (1990-)."""
    names: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for r in _read("given_names.csv"):
        names.setdefault((r["sex"], r["era"]), []).append((r["name"], r["kana"]))
    return {key: tuple(values) for key, values in names.items()}


@cache
def drugs() -> tuple[tuple[Drug, float], ...]:
    return tuple(
        (
            Drug(
                r["code"],
                r["name"],
                r["ingredient"],
                r["unit"],
                float(r["daily_quantity"]),
                r["usage"],
                r["course"] == "chronic",
                int(r["min_age"]),
            ),
            float(r["weight"]),
        )
        for r in _read("drugs.csv")
    )


@cache
def procedures() -> tuple[tuple[Procedure, float], ...]:
    return tuple(
        (
            Procedure(r["kind"], r["code"], r["name"], int(r["min_age"]), r["sex"]),
            float(r["weight"]),
        )
        for r in _read("procedures.csv")
    )


@cache
def employer_insurers() -> tuple[EmployerInsurer, ...]:
    """Health insurance societies (06) and mutual aid associations (31-34); fictional names."""
    return tuple(
        EmployerInsurer(r["law_code"], r["prefecture"], r["insurer"], r["name"])
        for r in _read("employer_insurers.csv")
    )
