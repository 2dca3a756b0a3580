"""The person record: one insured person with their histories, as import reads it and export writes
it (one JSON object a line). Validation at this edge uses marshmallow schemas."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from payer_registry import identifiers
from payer_registry.checkup_items import METABOLIC_JUDGEMENTS, URINE_RESULTS
from payer_registry.eligibility import IncomeCategory
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


def _choice(values) -> validate.OneOf:
    return validate.OneOf(list(values))


def _text(max_length: int, **kwargs) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)


def _institution_code(**kwargs) -> fields.String:
    return fields.String(validate=_identifier(identifiers.validate_institution_code), **kwargs)


def _identifier(check):
    def run(value: str) -> None:
        try:
            check(value)
        except identifiers.IdentifierError as error:
            raise ValidationError(str(error)) from None

    return run


class _Strict(Schema):
    class Meta:
        unknown = RAISE


def _optional_date() -> fields.Date:
    return fields.Date(allow_none=True, load_default=None)


def _in_order(data: dict, *names: str) -> None:
    """The dates among ``names`` that are given must not go backwards (equal dates are fine)."""
    given = [(name, data[name]) for name in names if data.get(name) is not None]
    for (earlier, first), (later, second) in pairwise(given):
        if second < first:
            raise ValidationError(f"must not be before {earlier}", later)


class _Period(_Strict):
    """A certificate's validity and its issue date (交付年月日), which may precede the validity
    (a certificate sent before it takes effect) or fall within it (issued on application)."""

    valid_from = fields.Date(required=True)
    valid_until = _optional_date()
    issued_on = _optional_date()

    @validates_schema
    def _ordered(self, data: dict, **_: Any) -> None:
        _in_order(data, "valid_from", "valid_until")
        _in_order(data, "issued_on", "valid_until")


class QualificationSchema(_Strict):
    insured_number = fields.String(
        required=True, validate=_identifier(identifiers.parse_insured_number)
    )
    insurer_name = _text(100, required=True)
    relationship = fields.String(required=True, validate=_choice(("self", "family")))
    card_classification = fields.String(load_default="01", validate=_choice(CARD_CLASSIFICATIONS))
    insured_name = _text(100, required=True)
    acquired_on = fields.Date(required=True)
    lost_on = fields.Date(allow_none=True, load_default=None)
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
    dispensed_on = fields.Date(required=True)
    prescribed_on = fields.Date(required=True)
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
    examined_on = fields.Date(required=True)
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
    performed_on = fields.Date(required=True)
    procedure_code = _text(12, required=True)
    procedure_name = _text(100, required=True)
    institution_code = _institution_code(required=True)
    institution_name = _text(100, required=True)


class CardLinkSchema(_Strict):
    cert_issuer = _text(300, required=True)
    cert_serial = fields.String(required=True, validate=validate.Regexp(r"^[0-9A-F]{1,64}$"))
    linked_at = fields.AwareDateTime(required=True)
    ended_at = fields.AwareDateTime(allow_none=True, load_default=None)
    end_reason = fields.String(
        allow_none=True, load_default=None, validate=_choice(("revoked", "renewed"))
    )


def _many(schema: type[Schema]) -> fields.List:
    return fields.List(fields.Nested(schema), load_default=list)


class PersonRecordSchema(_Strict):
    """One insured person: identity, every qualification, certificates and medical records."""

    name = _text(100, required=True)
    name_kana = _text(100, required=True)
    birth_date = fields.Date(required=True)
    sex = fields.String(required=True, validate=_choice(("1", "2", "3")))
    address = fields.String(load_default="", validate=validate.Length(max=200))
    post_code = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.Regexp(POST_CODE, error="must be NNN-NNNN"),
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

    @validates_schema
    def _distinct_numbers(self, data: dict, **_: Any) -> None:
        numbers = [q["insured_number"] for q in data.get("qualifications", [])]
        if len(set(numbers)) != len(numbers):
            raise ValidationError("an insured number appears twice", "qualifications")


PERSON_RECORD = PersonRecordSchema()


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
