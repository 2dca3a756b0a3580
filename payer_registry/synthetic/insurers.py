"""The synthetic payers: insurers of every kind, with numbers whose check digits are valid.

Per prefecture: the national association's branch (協会けんぽ, law code 01, insurer 001, e.g.
01130012 Tokyo), the late-stage elderly union (後期高齢者医療広域連合, law code 39, insurer 100, e.g.
39131008 Tokyo) and one National Health Insurance (国民健康保険, 6 digits) per bundled city; plus the
bundled societies (06) and mutual aid associations (31-34)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from payer_registry.identifiers import check_digit, insurer_kind, make_insurer_number
from payer_registry.synthetic.reference import employer_insurers, prefectures


@dataclass(frozen=True, slots=True)
class InsurerInfo:
    number: str
    name: str
    kind: str

    @property
    def self_branch(self) -> int:
        """The branch (枝番) of the insured person: 0 or 1 depending on the insurer's practice."""
        return int(self.number[-1]) % 2


@dataclass(frozen=True, slots=True)
class Catalogue:
    association: dict[str, InsurerInfo]  # by prefecture code
    late_stage: dict[str, InsurerInfo]  # by prefecture code
    nhi: dict[str, tuple[InsurerInfo, ...]]  # by prefecture code, one per city
    employers: tuple[InsurerInfo, ...]  # societies and mutual aid

    def all(self) -> list[InsurerInfo]:
        by_prefecture = [
            insurer
            for code in self.association
            for insurer in (self.association[code], self.late_stage[code], *self.nhi[code])
        ]
        return [*by_prefecture, *self.employers]


def _info(number: str, name: str) -> InsurerInfo:
    return InsurerInfo(number, name, insurer_kind(number))


def _nhi_number(prefecture: str, city_index: int) -> str:
    body = f"{prefecture}{city_index + 1:03d}"
    return body + check_digit(body)


@cache
def catalogue() -> Catalogue:
    """Every synthetic insurer; the same on every run (independent of the seed)."""
    prefs = prefectures().items
    return Catalogue(
        association={
            p.code: _info(make_insurer_number("01", p.code, "001"), f"全国健康保険協会{p.name}支部")
            for p in prefs
        },
        late_stage={
            p.code: _info(
                make_insurer_number("39", p.code, "100"), f"{p.name}後期高齢者医療広域連合"
            )
            for p in prefs
        },
        nhi={
            p.code: tuple(_info(_nhi_number(p.code, i), city) for i, city in enumerate(p.cities))
            for p in prefs
        },
        employers=tuple(
            _info(make_insurer_number(e.law_code, e.prefecture, e.insurer), e.name)
            for e in employer_insurers()
        ),
    )


def insurer_rows() -> list[tuple[str, str, str]]:
    """Rows of the ``insurers`` table: (number, name, kind)."""
    return [(i.number, i.name, i.kind) for i in catalogue().all()]
