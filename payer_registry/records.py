"""The person record: one insured person with their histories, as import reads it and export writes
it (one JSON object a line). Validation at this edge uses marshmallow schemas."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable
from itertools import pairwise
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates,
    validates_schema,
)

from payer_registry import identifiers
from payer_registry.checkup_items import METABOLIC_JUDGEMENTS, URINE_RESULTS
from payer_registry.eligibility import IncomeCategory, today_in_japan
from payer_registry.limits import BRACKETS, CERTIFICATE_CLASSIFICATIONS, MEAL_COST_REDUCED

LOSS_REASONS = ("01", "02", "03", "99")
CARD_CLASSIFICATIONS = {
    "01": "一般",
    "02": "退職",
    "03": "短期（一般）",
    "04": "短期（退職）",
    "05": "資格証明書",
    "06": "特例退職",
    "07": "自衛官診療証",
}
"""The card classifications (被保険者証区分) of the real system, with their labels."""
POST_CODE = r"^[0-9]{3}-[0-9]{4}$"
"""A post code (郵便番号) as the registry keeps it: three digits, a hyphen, four digits."""
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2200, 12, 31)
"""Every date of a record lies in this range, and a birth date is not after today: the rules compute
ages and periods from these dates, so one absurd date (9999-12-31) would break every check of the
person and every batch that holds them."""


def _choice(values) -> validate.OneOf:
    return validate.OneOf(list(values))


def _text(max_length: int, **kwargs) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)


def _institution_code(**kwargs) -> fields.String:
    return fields.String(validate=identifier(identifiers.validate_institution_code), **kwargs)


def _whole(pattern: str, error: str):
    """A validator matching the whole value: ``validate.Regexp`` uses ``re.match``, whose ``$`` lets
    a trailing newline through."""
    compiled = re.compile(pattern.removeprefix("^").removesuffix("$"))

    def run(value: str) -> None:
        if compiled.fullmatch(value) is None:
            raise ValidationError(error)

    return run


def identifier(check: Callable[[str], object]) -> Callable[[str], None]:
    """A marshmallow validator from a check of ``payer_registry.identifiers``."""

    def run(value: str) -> None:
        try:
            check(value)
        except identifiers.IdentifierError as error:
            raise ValidationError(str(error)) from None

    return run


class _Strict(Schema):
    class Meta:
        unknown = RAISE


def registry_date(**kwargs) -> fields.Date:
    """A date field bounded to ``EARLIEST_DATE``-``LATEST_DATE``, for every date a payer sends."""
    return fields.Date(validate=validate.Range(min=EARLIEST_DATE, max=LATEST_DATE), **kwargs)


def _optional_date() -> fields.Date:
    return registry_date(allow_none=True, load_default=None)


def _in_order(data: dict, *names: str) -> None:
    """The dates among ``names`` that are given must not go backwards (equal dates are fine)."""
    given = [(name, data[name]) for name in names if data.get(name) is not None]
    for (earlier, first), (later, second) in pairwise(given):
        if second < first:
            raise ValidationError(f"must not be before {earlier}", later)


class _Period(_Strict):
    """A certificate's validity and its issue date (交付年月日), which may precede the validity
    (a certificate sent before it takes effect) or fall within it (issued on application)."""

    valid_from = registry_date(required=True)
    valid_until = _optional_date()
    issued_on = _optional_date()

    @validates_schema
    def _ordered(self, data: dict, **_: Any) -> None:
        _in_order(data, "valid_from", "valid_until")
        _in_order(data, "issued_on", "valid_until")


class QualificationSchema(_Strict):
    insured_number = fields.String(
        required=True, validate=identifier(identifiers.parse_insured_number)
    )
    insurer_name = _text(100, required=True)
    relationship = fields.String(required=True, validate=_choice(("self", "family")))
    card_classification = fields.String(load_default="01", validate=_choice(CARD_CLASSIFICATIONS))
    insured_name = _text(100, required=True)
    acquired_on = registry_date(required=True)
    lost_on = _optional_date()
    loss_reason = fields.String(allow_none=True, load_default=None, validate=_choice(LOSS_REASONS))
    certificate_issued_on = _optional_date()  # 交付年月日 of the card
    card_valid_from = _optional_date()  # 有効開始日
    card_valid_until = _optional_date()  # 有効終了日: short-term cards (03, 04) have one

    @validates_schema
    def _loss(self, data: dict, **_: Any) -> None:
        lost_on, reason = data.get("lost_on"), data.get("loss_reason")
        if lost_on and lost_on <= data["acquired_on"]:
            raise ValidationError("must be after acquired_on", "lost_on")
        if bool(lost_on) != bool(reason):
            raise ValidationError("lost_on and loss_reason go together", "loss_reason")

    @validates_schema
    def _card_dates(self, data: dict, **_: Any) -> None:
        _in_order(data, "certificate_issued_on", "card_valid_from", "card_valid_until")


class ElderlyCertificateSchema(_Period):
    copay_ratio = fields.Integer(required=True, validate=_choice((20, 30)))


class LimitCertificateSchema(_Period):
    classification = fields.String(required=True, validate=_choice(CERTIFICATE_CLASSIFICATIONS))
    bracket_code = fields.String(required=True, validate=_choice(BRACKETS))
    long_term_on = _optional_date()  # 長期入院該当年月日

    @validates_schema
    def _long_term(self, data: dict, **_: Any) -> None:
        if data.get("long_term_on") and data.get("classification") not in MEAL_COST_REDUCED:
            raise ValidationError(
                "only a certificate that reduces the standard meal cost (02, 03) has one",
                "long_term_on",
            )


class SpecificDiseaseSchema(_Period):
    category = fields.String(required=True, validate=_choice(("1", "2", "3")))
    self_pay_limit = fields.Integer(required=True, validate=validate.Range(min=0, max=100_000))


class MedicationSchema(_Strict):
    dispensed_on = registry_date(required=True)
    prescribed_on = registry_date(required=True)
    drug_code = _text(12, required=True)
    drug_name = _text(100, required=True)
    ingredient = _text(100, required=True)
    quantity = fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False))
    unit = _text(10, required=True)
    usage = _text(60, required=True)
    days = fields.Integer(required=True, validate=validate.Range(min=1, max=365))
    dispenser_code = _institution_code(required=True)
    dispenser_name = _text(100, required=True)
    prescriber_code = _institution_code(required=True)
    prescriber_name = _text(100, required=True)
    in_house = fields.Boolean(required=True)


def _measure(low: float, high: float, kind=fields.Float) -> fields.Field:
    return kind(allow_none=True, load_default=None, validate=validate.Range(min=low, max=high))


def _urine() -> fields.String:
    return fields.String(allow_none=True, load_default=None, validate=_choice(URINE_RESULTS))


class CheckupSchema(_Strict):
    examined_on = registry_date(required=True)
    institution_name = _text(100, required=True)
    height = _measure(50, 250)
    weight = _measure(10, 300)
    bmi = _measure(8, 80)
    waist = _measure(30, 250)
    systolic_bp = _measure(50, 300, fields.Integer)
    diastolic_bp = _measure(20, 200, fields.Integer)
    triglycerides = _measure(5, 5000, fields.Integer)
    hdl = _measure(5, 300, fields.Integer)
    ldl = _measure(5, 1000, fields.Integer)
    ast = _measure(1, 5000, fields.Integer)
    alt = _measure(1, 5000, fields.Integer)
    gamma_gt = _measure(1, 5000, fields.Integer)
    fasting_glucose = _measure(20, 1000, fields.Integer)
    hba1c = _measure(2, 20)
    egfr = _measure(1, 200)
    urine_glucose = _urine()
    urine_protein = _urine()
    haemoglobin = _measure(2, 25)
    metabolic_judgement = fields.String(required=True, validate=_choice(METABOLIC_JUDGEMENTS))


class ProcedureSchema(_Strict):
    kind = fields.String(required=True, validate=_choice(("clinical", "surgery")))
    performed_on = registry_date(required=True)
    procedure_code = _text(12, required=True)
    procedure_name = _text(100, required=True)
    institution_code = _institution_code(required=True)
    institution_name = _text(100, required=True)


class CardLinkSchema(_Strict):
    cert_issuer = _text(300, required=True)
    cert_serial = fields.String(
        required=True, validate=_whole("[0-9A-F]{1,64}", "must be 1-64 hexadecimal digits")
    )
    linked_at = fields.AwareDateTime(required=True)
    ended_at = fields.AwareDateTime(allow_none=True, load_default=None)
    end_reason = fields.String(
        allow_none=True, load_default=None, validate=_choice(("revoked", "renewed"))
    )


def _many(schema: type[Schema]) -> fields.List:
    return fields.List(fields.Nested(schema), load_default=list)


class PersonRecordSchema(_Strict):
    """One insured person: identity, every qualification, certificates and medical records."""

    def __init__(self, *, today: dt.date | None = None, **kwargs: Any) -> None:
        """``today``: the day the record is loaded for, after which no one is born (default: today
        in Japan; the training scenarios are also built for other days)."""
        super().__init__(**kwargs)
        self.today = today

    name = _text(100, required=True)
    name_kana = _text(100, required=True)
    birth_date = fields.Date(required=True)
    sex = fields.String(required=True, validate=_choice(("1", "2", "3")))
    address = fields.String(load_default="", validate=validate.Length(max=200))
    post_code = fields.String(
        allow_none=True,
        load_default=None,
        validate=_whole(POST_CODE, "must be NNN-NNNN"),
    )
    income_category = fields.String(load_default="general", validate=_choice(IncomeCategory))
    qualifications = fields.List(
        fields.Nested(QualificationSchema), required=True, validate=validate.Length(min=1)
    )
    elderly_certificates = _many(ElderlyCertificateSchema)
    limit_certificates = _many(LimitCertificateSchema)
    specific_disease_certificates = _many(SpecificDiseaseSchema)
    medications = _many(MedicationSchema)
    checkups = _many(CheckupSchema)
    procedures = _many(ProcedureSchema)
    card_links = _many(CardLinkSchema)

    @validates("birth_date")
    def _born(self, value: dt.date, **_: Any) -> None:
        if not EARLIEST_DATE <= value <= (self.today or today_in_japan()):
            raise ValidationError(f"must be between {EARLIEST_DATE} and today")

    @validates_schema
    def _distinct_numbers(self, data: dict, **_: Any) -> None:
        numbers = [q["insured_number"] for q in data.get("qualifications", [])]
        if len(set(numbers)) != len(numbers):
            raise ValidationError("an insured number appears twice", "qualifications")


PERSON_RECORD = PersonRecordSchema()
MAX_JSON_DEPTH = 32
MAX_INTEGER_DIGITS = 20
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class UnreadableJson(ValueError):
    """JSON text that no edge of the simulator takes; the message says why."""


def strict_json(text: str) -> Any:
    """Parse JSON as every edge takes it (API bodies, imported lines). Python's parser alone lets
    through what later fails deep inside: nesting that exhausts the stack, integers too long for
    ``int``, NaN and Infinity, lone surrogates and NUL characters, which no database stores."""
    try:
        value = json.loads(
            text, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_no_constant
        )
    except json.JSONDecodeError as error:
        raise UnreadableJson(f"not JSON: {error.msg}") from None
    except RecursionError:
        raise UnreadableJson(f"nested more than {MAX_JSON_DEPTH} levels deep") from None
    except ValueError as error:
        raise UnreadableJson(str(error)) from None
    refuse_unstorable(value)
    return value


def refuse_unstorable(value: Any) -> None:
    """Raise ``UnreadableJson`` when ``value`` nests too deep or a string (or key) holds a NUL or a
    lone surrogate. Walks without recursion, so any depth is safe to look at."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise UnreadableJson(f"nested more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str) and _UNSTORABLE.search(item):
            raise UnreadableJson("a string holds a NUL character or a lone surrogate")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ValueError(f"an integer of more than {MAX_INTEGER_DIGITS} digits")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is out of range")
    return value


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def flatten_errors(messages: dict | list, prefix: str = "") -> list[tuple[str, str]]:
    """marshmallow's nested messages as (field path, message) pairs, e.g. ``qualifications.0.lost_on``."""
    if isinstance(messages, list):
        return [(prefix or "(record)", str(message)) for message in messages]
    pairs = []
    for key, value in messages.items():
        path = str(key) if key != "_schema" else ""
        joined = ".".join(part for part in (prefix, path) if part)
        pairs.extend(flatten_errors(value, joined))
    return pairs
