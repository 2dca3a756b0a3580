"""Schemas shared by the API's blueprints and the reader station: errors, eligibility, card
sessions and proofs, consents, paging."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from app.service.card_proof import METHODS, CardProof
from app.service.consent import CATEGORIES
from app.service.prescriptions import (
    MAX_DAYS,
    MAX_PLANNED,
    YJ_CODE,
    Finding,
    PlannedDrug,
    is_yj_code,
)
from payer_registry import identifiers
from payer_registry.eligibility import RELATIONSHIP_CODES, VALIDITY_CODES, today_in_japan
from payer_registry.presenting import jsonable
from payer_registry.records import CARD_CLASSIFICATIONS, POST_CODE, identifier, registry_date


class StrictBoolean(fields.Boolean):
    """Only JSON true and false: 0, 1, "yes" and the like are refused."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"example": "VALIDATION_FAILED"})
    message = fields.String(required=True)
    details = fields.Dict(required=True)


class ErrorSchema(Schema):
    """The one error shape of the whole API."""

    error = fields.Nested(ErrorBodySchema, required=True)


class CertificatePeriodSchema(Schema):
    valid_from = fields.Date()
    valid_until = fields.Date(allow_none=True)
    issued_on = fields.Date(
        allow_none=True,
        metadata={
            "description": "交付年月日: the day the certificate was issued; null when unknown"
        },
    )


class LimitCertificateSchema(CertificatePeriodSchema):
    classification = fields.String(metadata={"example": "01"})
    classification_label = fields.String()
    bracket_code = fields.String(metadata={"example": "A03"})
    bracket_label = fields.String(metadata={"example": "ウ"})
    long_term_on = fields.Date(
        allow_none=True,
        metadata={
            "description": "長期入院該当年月日: from when a long hospital stay (over 90 days in 12 "
            "months) further reduces the standard meal cost; only on classifications 02 and 03"
        },
    )


class ElderlyCertificateSchema(CertificatePeriodSchema):
    copay_ratio = fields.Integer()


class SpecificDiseaseSchema(CertificatePeriodSchema):
    category = fields.String()
    self_pay_limit = fields.Integer()


class EligibilitySchema(Schema):
    """The confirmation result with the codes of the real system (docs/rules.md §2)."""

    validity = fields.String(
        validate=validate.OneOf(["valid", "invalid", "invalid_new_exists", "not_found", "multiple"])
    )
    validity_code = fields.String(
        validate=validate.OneOf(list(VALIDITY_CODES.values())),
        metadata={
            "example": "1",
            "description": "the real system's code of the validity (資格有効性): 1 valid, 2 invalid, "
            "3 invalid_new_exists, 4 not_found, 5 multiple",
        },
    )
    confirmed_on = fields.Date()
    insurer_number = fields.String(metadata={"example": "06139992"})
    insurer_name = fields.String()
    symbol = fields.String()
    number = fields.String()
    branch = fields.String(metadata={"example": "01"})
    card_classification = fields.String(
        validate=validate.OneOf(list(CARD_CLASSIFICATIONS)),
        metadata={
            "example": "01",
            "description": "被保険者証区分: "
            + ", ".join(f"{code} {label}" for code, label in CARD_CLASSIFICATIONS.items()),
        },
    )
    relationship = fields.String(validate=validate.OneOf(list(RELATIONSHIP_CODES)))
    relationship_code = fields.String(
        validate=validate.OneOf(list(RELATIONSHIP_CODES.values())),
        metadata={
            "example": "1",
            "description": "the real system's code of the relationship (本人・家族の別): "
            "1 self (本人), 2 family (家族)",
        },
    )
    name = fields.String()
    name_kana = fields.String()
    birth_date = fields.Date()
    sex = fields.String()
    address = fields.String(metadata={"example": "東京都千代田区霞が関1-2-2"})
    post_code = fields.String(
        allow_none=True,
        metadata={
            "example": "100-0013",
            "pattern": POST_CODE,
            "description": "郵便番号 of the person's address, NNN-NNNN; null when the payer sent none",
        },
    )
    insured_name = fields.String()
    acquired_on = fields.Date()
    lost_on = fields.Date(allow_none=True)
    loss_reason = fields.String(allow_none=True)
    certificate_issued_on = fields.Date(
        allow_none=True,
        metadata={"description": "交付年月日: the day the insurance card was issued"},
    )
    card_valid_from = fields.Date(
        allow_none=True, metadata={"description": "有効開始日: the first day the card is valid"}
    )
    card_valid_until = fields.Date(
        allow_none=True,
        metadata={
            "description": "有効終了日: the last day the card is valid; null when it has none "
            "(short-term cards, 03 and 04, have one)"
        },
    )
    copay_ratio = fields.Integer(metadata={"example": 30})
    preschool = fields.Boolean()
    elderly_certificate = fields.Nested(ElderlyCertificateSchema, allow_none=True)
    limit_certificate = fields.Nested(LimitCertificateSchema, allow_none=True)
    specific_diseases = fields.List(fields.Nested(SpecificDiseaseSchema))


class ConsentSchema(Schema):
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    consented_at = fields.AwareDateTime()
    available_until = fields.AwareDateTime()


class DateRangeQuerySchema(StrictSchema):
    date_from = fields.Date()
    date_to = fields.Date()
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class RecordField(fields.Dict):
    """One medical record, its dates as ISO 8601 text (not Flask's HTTP dates)."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return jsonable(super()._serialize(value, attr, obj, **kwargs))


class PageSchema(Schema):
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    items = fields.List(RecordField())


class Base64(fields.Field[bytes]):
    """Binary data carried as standard base64 text."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "format": "byte",
            "pattern": r"^[A-Za-z0-9+/]*={0,2}$",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bytes:
        if not isinstance(value, str):
            raise ValidationError("Not a valid string.")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("not valid base64") from None

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else base64.b64encode(value).decode("ascii")


class CardSessionSchema(Schema):
    session_id = fields.String()
    challenge = Base64(metadata={"description": "random bytes to be signed by the card, base64"})
    expires_at = fields.AwareDateTime()


class ConsentChoicesSchema(StrictSchema):
    """What the patient chose on the reader's consent screen (同意画面)."""

    medication = StrictBoolean(load_default=False)
    checkup = StrictBoolean(load_default=False)
    clinical = StrictBoolean(load_default=False)
    surgery = StrictBoolean(load_default=False)
    limit_certificate = StrictBoolean(load_default=False)
    specific_diseases = StrictBoolean(load_default=False)


def no_consents() -> dict[str, bool]:
    return dict.fromkeys(CATEGORIES, False)


class CardProofSchema(StrictSchema):
    certificate = Base64(
        required=True, metadata={"description": "user-authentication certificate, DER, base64"}
    )
    signature = Base64(
        required=True,
        metadata={
            "description": "PIN mode: the card's PKCS#1 v1.5 SHA-256 signature over the challenge"
        },
    )


def card_proof(body: dict[str, Any]) -> CardProof:
    return CardProof(body["certificate"], body["signature"], body.get("method", "pin"))


class VerificationSchema(CardProofSchema):
    signature = Base64(
        required=True,
        metadata={
            "description": "PKCS#1 v1.5 SHA-256, base64. PIN mode: the card's signature over the "
            "challenge. Face mode: a registered reader key's signature over the challenge followed "
            "by the certificate DER and the given consent categories (sorted, joined by ',')"
        },
    )
    method = fields.String(
        load_default="pin",
        validate=validate.OneOf(METHODS),
        metadata={"description": "pin: the card signed; face: a face-recognition reader attests"},
    )
    consents = fields.Nested(ConsentChoicesSchema, load_default=no_consents)
    staff_id = fields.String(load_default=None, validate=validate.Length(max=40))


class VisitOpenedSchema(Schema):
    visit_id = fields.String()
    eligibility = fields.Nested(EligibilitySchema)
    consents = fields.List(fields.Nested(ConsentSchema))


class EligibilityCheckSchema(StrictSchema):
    insurer_number = fields.String(
        required=True,
        validate=identifier(identifiers.validate_insurer_number),
        metadata={"example": "06139992", "pattern": f"^({identifiers.INSURER_NUMBER})$"},
    )
    symbol = fields.String(
        load_default="",
        validate=identifier(identifiers.validate_symbol),
        metadata={"pattern": f"^{identifiers.SYMBOL}$"},
    )
    number = fields.String(
        required=True,
        validate=identifier(identifiers.validate_card_number),
        metadata={"pattern": f"^{identifiers.CARD_NUMBER}$"},
    )
    branch = fields.String(
        load_default=None,
        allow_none=True,
        validate=identifier(identifiers.validate_branch),
        metadata={"pattern": f"^{identifiers.BRANCH}$"},
    )
    birth_date = fields.Date(required=True)
    limit_certificate_consent = StrictBoolean(load_default=False)
    confirmation_date = fields.Date(load_default=None, allow_none=True)
    staff_id = fields.String(load_default=None, validate=validate.Length(max=40))


class EligibilityResultSchema(StrictSchema):
    eligibility = fields.Nested(EligibilitySchema, required=True)


class PortalTokenSchema(Schema):
    token = fields.String(
        metadata={"description": "send as 'Authorization: Bearer TOKEN' to /portal/me"}
    )
    expires_at = fields.AwareDateTime()


# -- prescriptions and the duplicate-medication check --------------------------------------------


def _yj_code(value: str) -> None:
    if not is_yj_code(value):
        raise ValidationError(
            "not a YJ code: 7 digits, a capital letter, a digit or capital letter, 3 digits"
        )


def yj_code_field(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=_yj_code,
        metadata={
            "pattern": f"^{YJ_CODE}$",
            "example": "2171022F1016",
            "description": "YJ code (個別医薬品コード): the first 4 characters are the therapeutic "
            "class, the first 7 the ingredient and route",
        },
        **kwargs,
    )


def _required_text(max_length: int) -> fields.String:
    return fields.String(required=True, validate=validate.Length(min=1, max=max_length))


def _days(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_DAYS), **kwargs)


class PrescriptionRequestSchema(StrictSchema):
    """A drug the institution prescribes (処方) for the patient of one of its card visits."""

    visit_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    drug_code = yj_code_field(required=True)
    drug_name = _required_text(100)
    ingredient = _required_text(100)
    quantity = fields.Float(
        required=True,
        validate=validate.Range(min=0, min_inclusive=False, max=10_000),
        metadata={"description": "a day's quantity, in `unit`"},
    )
    unit = _required_text(10)
    usage = _required_text(60)
    days = _days(required=True, metadata={"description": "days of use, from the issue date"})
    issued_on = registry_date(
        load_default=today_in_japan, metadata={"description": "default: today in Japan"}
    )
    staff_id = fields.String(load_default=None, validate=validate.Length(max=40))


def prescribed_drug(body: dict[str, Any]) -> dict[str, Any]:
    """The drug of a loaded ``PrescriptionRequestSchema``: everything but the visit."""
    return {key: value for key, value in body.items() if key != "visit_id"}


class _DrugFields(Schema):
    """A drug as the bundled list and a prescription name it."""

    drug_code = fields.String()
    drug_name = fields.String()
    ingredient = fields.String()
    unit = fields.String()
    usage = fields.String()


class PrescriptionSchema(_DrugFields):
    id = fields.String()
    visit_id = fields.String()
    institution_code = fields.String()
    staff_id = fields.String(allow_none=True)
    quantity = fields.Float()
    days = fields.Integer()
    issued_on = fields.Date()
    recorded_at = fields.AwareDateTime()


class PlannedDrugSchema(StrictSchema):
    drug_code = yj_code_field(required=True)
    days = _days(required=True)
    start_on = registry_date(
        load_default=today_in_japan,
        metadata={"description": "the first day of use; default: today in Japan"},
    )


class PrescriptionCheckRequestSchema(StrictSchema):
    """The drugs an institution plans to prescribe for its visit's patient (重複投薬等チェック)."""

    visit_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    drugs = fields.List(
        fields.Nested(PlannedDrugSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_PLANNED),
    )
    staff_id = fields.String(load_default=None, validate=validate.Length(max=40))


def planned_drugs(body: dict[str, Any]) -> list[PlannedDrug]:
    return [PlannedDrug(d["drug_code"], d["days"], d["start_on"]) for d in body["drugs"]]


class CourseSchema(Schema):
    """A drug the patient takes or took. Without the consent to show details, only `ingredient`."""

    ingredient = fields.String(required=True)
    source = fields.String(
        validate=validate.OneOf(["dispensed", "prescribed"]),
        metadata={
            "description": "dispensed: the registry's medication records (claims, ~45 days late); "
            "prescribed: recorded by an institution (seen at once)"
        },
    )
    drug_code = fields.String()
    drug_name = fields.String()
    institution_code = fields.String(metadata={"description": "the prescribing institution"})
    institution_name = fields.String()
    start_on = fields.Date(metadata={"description": "dispensing or issue date"})
    last_day = fields.Date(metadata={"description": "the last day of use"})
    days = fields.Integer()
    usage = fields.String()


FINDINGS = validate.OneOf([str(f) for f in Finding])


class PlannedResultSchema(Schema):
    drug_code = fields.String()
    drug_name = fields.String(
        allow_none=True, metadata={"description": "from the bundled drug list; null when not in it"}
    )
    start_on = fields.Date()
    last_day = fields.Date()
    days = fields.Integer()
    finding = fields.String(
        validate=FINDINGS,
        metadata={
            "description": "duplicate: the same ingredient and route (first 7 characters of the "
            "YJ code) over overlapping days; same_class: the same therapeutic class (first 4); none"
        },
    )


class DrugResultSchema(PlannedResultSchema):
    duplicates = fields.List(fields.Nested(CourseSchema))
    same_class = fields.List(fields.Nested(CourseSchema))


class PrescriptionCheckResultSchema(Schema):
    visit_id = fields.String()
    checked_at = fields.AwareDateTime()
    finding = fields.String(validate=FINDINGS, metadata={"description": "the worst finding"})
    details_shown = fields.Boolean(
        metadata={
            "description": "false without a live medication consent at this institution: each "
            "match then carries only its ingredient"
        }
    )
    results = fields.List(fields.Nested(DrugResultSchema))


class DrugSchema(_DrugFields):
    daily_quantity = fields.Float()
    chronic = fields.Boolean()


class DrugListSchema(Schema):
    drugs = fields.List(fields.Nested(DrugSchema))
