"""Identifiers of the insurance system: insurer numbers (保険者番号), individualized insured numbers
(個人単位被保険者番号) and institution codes (医療機関コード). Numbers are strings everywhere.

Every edge (the API, imports, the terminal, the command line) checks identifiers here and only here,
so a value that passes one passes all: refused, never normalised, when not in the exact shape."""

from __future__ import annotations

import re
from dataclasses import dataclass

LAW_CODE_KINDS = {
    "01": "national_association",  # 協会けんぽ
    "02": "seamen",
    "06": "society",  # 組合管掌健康保険
    "31": "mutual_aid",
    "32": "mutual_aid",
    "33": "mutual_aid",
    "34": "mutual_aid",
    "39": "late_stage_elderly",  # 後期高齢者医療
}
NATIONAL_HEALTH_INSURANCE = "national_health_insurance"  # 国民健康保険: 6-digit numbers

# The shapes of docs/rules.md §1, matched against the whole value (``fullmatch``: a pattern ending
# in ``$`` would let a trailing newline through). Digits are ASCII only: ``str.isdigit`` also passes
# "²", "０" and the digits of other scripts, which ``int`` then refuses or reads as something else.
SYMBOL = r"[^:\s\x00-\x1f\x7f\ud800-\udfff]{0,20}"
CARD_NUMBER = r"[0-9A-Za-z\-]{1,20}"
BRANCH = r"[0-9]{2}"
INSURER_NUMBER = r"[0-9]{6}|[0-9]{8}"
_DIGITS = re.compile(r"[0-9]+")
_INSTITUTION_CODE = re.compile(r"[0-9]{10}")
_SYMBOL, _CARD_NUMBER, _BRANCH, _INSURER_NUMBER = (
    re.compile(pattern) for pattern in (SYMBOL, CARD_NUMBER, BRANCH, INSURER_NUMBER)
)


class IdentifierError(ValueError):
    """An identifier that does not follow the rules of docs/rules.md §1."""


def _matches(pattern: re.Pattern[str], value: object) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def check_digit(digits: str) -> str:
    """Luhn-style modulus-10 check digit over the digits that precede it."""
    if not _matches(_DIGITS, digits):
        raise IdentifierError(f"not all digits: {digits!r}")
    total = 0
    for position, char in enumerate(reversed(digits)):
        product = int(char) * (2 if position % 2 == 0 else 1)
        total += product // 10 + product % 10
    return str((10 - total % 10) % 10)


def validate_insurer_number(number: str) -> str:
    """Return the insurer number when its length and check digit are right, else raise."""
    if not _matches(_INSURER_NUMBER, number):
        raise IdentifierError("insurer number must be 6 or 8 digits")
    if check_digit(number[:-1]) != number[-1]:
        raise IdentifierError(f"insurer number {number} has a wrong check digit")
    return number


def insurer_kind(number: str) -> str:
    """The kind of insurer from the law code (法別番号); 6-digit numbers are National Health Insurance."""
    if len(number) == 6:
        return NATIONAL_HEALTH_INSURANCE
    return LAW_CODE_KINDS.get(number[:2], "other")


def is_late_stage_elderly(number: str) -> bool:
    """Whether the insurer is of the late-stage elderly system (後期高齢者医療, law code 39)."""
    return insurer_kind(number) == LAW_CODE_KINDS["39"]


def make_insurer_number(law_code: str, prefecture: str, insurer: str) -> str:
    body = f"{law_code}{prefecture}{insurer}"
    return body + check_digit(body)


@dataclass(frozen=True, slots=True)
class InsuredNumber:
    """The individualized insured number; canonical text ``INSURER:SYMBOL:NUMBER:BRANCH``."""

    insurer: str
    symbol: str
    number: str
    branch: str

    def __str__(self) -> str:
        return f"{self.insurer}:{self.symbol}:{self.number}:{self.branch}"

    @property
    def household(self) -> str:
        """The text shared by every member of the card (everything before the branch)."""
        return f"{self.insurer}:{self.symbol}:{self.number}:"


def insured_number(insurer: str, symbol: str, number: str, branch: str) -> InsuredNumber:
    """Validate the four parts and build the individualized insured number."""
    validate_insurer_number(insurer)
    validate_symbol(symbol)
    validate_card_number(number)
    validate_branch(branch)
    return InsuredNumber(insurer, symbol, number, branch)


def validate_symbol(symbol: str) -> str:
    """The card symbol (記号): any script, possibly empty; never ':', spaces or control characters."""
    if not _matches(_SYMBOL, symbol):
        raise IdentifierError(
            "card symbol may not hold ':', spaces or control characters and is at most 20 characters"
        )
    return symbol


def validate_card_number(number: str) -> str:
    """The card number (番号): 1-20 ASCII digits, Latin letters or hyphens."""
    if not _matches(_CARD_NUMBER, number):
        raise IdentifierError("card number must be 1-20 digits, letters or hyphens")
    return number


def validate_branch(branch: str) -> str:
    """The branch (枝番): exactly two ASCII digits."""
    if not _matches(_BRANCH, branch):
        raise IdentifierError('branch must be exactly two digits, "00" to "99"')
    return branch


def parse_insured_number(text: str) -> InsuredNumber:
    """Parse the canonical form, e.g. ``06139992:12-34:5678:01``."""
    parts = text.split(":") if isinstance(text, str) else []
    if len(parts) != 4:
        raise IdentifierError("expected INSURER:SYMBOL:NUMBER:BRANCH")
    return insured_number(*parts)


def validate_institution_code(code: str) -> str:
    """10 digits: prefecture (2) + fee table (1: medical, 3: dental, 4: pharmacy) + 7 digits."""
    if not _matches(_INSTITUTION_CODE, code):
        raise IdentifierError("institution code must be 10 digits")
    if code[2] not in "134":
        raise IdentifierError("institution code fee-table digit must be 1, 3 or 4")
    return code
