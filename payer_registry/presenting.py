"""Plain-data views of registry results, shared by the CLI and the API."""

from __future__ import annotations

import dataclasses
import datetime as dt

from payer_registry.confirmation import Confirmation
from payer_registry.eligibility import RELATIONSHIP_CODES, VALIDITY_CODES
from payer_registry.identifiers import parse_insured_number


def confirmation_dict(result: Confirmation) -> dict:
    """The eligibility result with the fields and codes of docs/rules.md §2: the simulator's words
    (``validity``, ``relationship``) with the real system's codes beside them (``validity_code``,
    ``relationship_code``)."""
    person, qualification = result.person, result.qualification
    data: dict = {
        "validity": str(result.validity),
        "validity_code": VALIDITY_CODES[result.validity],
        "confirmed_on": result.at,
    }
    if qualification is not None:
        number = parse_insured_number(qualification.insured_number)
        data |= {
            "insurer_number": number.insurer,
            "insurer_name": qualification.insurer_name,
            "symbol": number.symbol,
            "number": number.number,
            "branch": number.branch,
            "card_classification": qualification.card_classification,
            "relationship": qualification.relationship,
            "relationship_code": RELATIONSHIP_CODES[qualification.relationship],
            "insured_name": qualification.insured_name,
            "acquired_on": qualification.acquired_on,
            "lost_on": qualification.lost_on,
            "loss_reason": qualification.loss_reason,
            "certificate_issued_on": qualification.certificate_issued_on,
            "card_valid_from": qualification.card_valid_from,
            "card_valid_until": qualification.card_valid_until,
            "copay_ratio": result.copay_ratio,
            "preschool": result.preschool,
            "elderly_certificate": result.elderly_certificate,
            "limit_certificate": result.limit_certificate,
            "specific_diseases": result.specific_diseases,
        }
    if person is not None and qualification is not None:
        data |= {
            "name": person.name,
            "name_kana": person.name_kana,
            "birth_date": person.birth_date,
            "sex": person.sex,
            "address": person.address,
            "post_code": person.post_code,
        }
    return data


def jsonable(value: object) -> object:
    """Dates to ISO text, dataclasses to dicts, recursively."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value
