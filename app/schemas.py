"""Schemas shared by several blueprints (errors, eligibility, consents, paging)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from payer_registry.access.consent import CATEGORIES
from payer_registry.presenting import jsonable


class StrictBoolean(fields.Boolean):
    """Only JSON true and false: 0, 1, "yes" and the like are refused."""

    def _deserialize(self, value, attr, data, **kwargs) -> bool:
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


class LimitCertificateSchema(CertificatePeriodSchema):
    classification = fields.String(metadata={"example": "01"})
    classification_label = fields.String()
    bracket_code = fields.String(metadata={"example": "A03"})
    bracket_label = fields.String(metadata={"example": "ウ"})


class ElderlyCertificateSchema(CertificatePeriodSchema):
    copay_ratio = fields.Integer()


class SpecificDiseaseSchema(CertificatePeriodSchema):
    category = fields.String()
    self_pay_limit = fields.Integer()


class EligibilitySchema(Schema):
    """The confirmation result with the codes of the real system (SPEC §2)."""

    validity = fields.String(
        validate=validate.OneOf(["valid", "invalid", "invalid_new_exists", "not_found", "multiple"])
    )
    confirmed_on = fields.Date()
    insurer_number = fields.String(metadata={"example": "06139992"})
    insurer_name = fields.String()
    symbol = fields.String()
    number = fields.String()
    branch = fields.String(metadata={"example": "01"})
    card_classification = fields.String()
    relationship = fields.String()
    name = fields.String()
    name_kana = fields.String()
    birth_date = fields.Date()
    sex = fields.String()
    insured_name = fields.String()
    acquired_on = fields.Date()
    lost_on = fields.Date(allow_none=True)
    loss_reason = fields.String(allow_none=True)
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

    def _serialize(self, value, attr, obj, **kwargs):
        return jsonable(super()._serialize(value, attr, obj, **kwargs))


class PageSchema(Schema):
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    items = fields.List(RecordField())
