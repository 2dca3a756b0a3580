import copy

import pytest

BASE_RECORD = {
    "name": "山田 太郎",
    "name_kana": "ヤマダ タロウ",
    "birth_date": "1980-05-01",
    "sex": "1",
    "address": "東京都千代田区霞が関1-2-2",
    "income_category": "general",
    "qualifications": [
        {
            "insured_number": "06139992:12-34:5678:01",
            "insurer_name": "霞が関健康保険組合",
            "relationship": "self",
            "card_classification": "01",
            "insured_name": "山田 太郎",
            "acquired_on": "2015-04-01",
            "lost_on": None,
            "loss_reason": None,
        }
    ],
    "elderly_certificates": [],
    "limit_certificates": [
        {
            "classification": "01",
            "bracket_code": "A03",
            "valid_from": "2024-08-01",
            "valid_until": "2030-07-31",
        }
    ],
    "specific_disease_certificates": [],
    "medications": [
        {
            "dispensed_on": "2024-05-10",
            "prescribed_on": "2024-05-10",
            "drug_code": "2171022F1234",
            "drug_name": "アムロジピン錠5mg「サワイ」",
            "ingredient": "アムロジピンベシル酸塩",
            "quantity": 1.0,
            "unit": "錠",
            "usage": "1日1回朝食後",
            "days": 28,
            "dispenser_code": "1341234567",
            "dispenser_name": "かすみ薬局",
            "prescriber_code": "1311234567",
            "prescriber_name": "霞が関内科クリニック",
            "in_house": False,
        }
    ],
    "checkups": [],
    "procedures": [],
    "card_links": [],
}


@pytest.fixture
def make_record():
    """A valid person record; keyword arguments override top-level fields."""

    def make(**overrides):
        record = copy.deepcopy(BASE_RECORD)
        record.update(overrides)
        return record

    return make


def qualification(number, acquired, lost=None, reason=None, relationship="self", name="山田 太郎"):
    return {
        "insured_number": number,
        "insurer_name": "テスト保険者",
        "relationship": relationship,
        "card_classification": "01",
        "insured_name": name,
        "acquired_on": acquired,
        "lost_on": lost,
        "loss_reason": reason,
    }


def with_details(record: dict) -> dict:
    """A copy of ``record`` (in the format before the certificate details) with the details: post
    code, the card's issue and validity dates, the certificates' issue dates."""
    record = copy.deepcopy(record)
    record["post_code"] = "100-0013"
    for q in record["qualifications"]:
        q |= {
            "certificate_issued_on": q["acquired_on"],
            "card_valid_from": q["acquired_on"],
            "card_valid_until": None,
        }
    for section in ("elderly_certificates", "limit_certificates", "specific_disease_certificates"):
        for certificate in record[section]:
            certificate["issued_on"] = certificate["valid_from"]
    return record


DETAILED_RECORD = with_details(BASE_RECORD)
"""``BASE_RECORD`` with every certificate detail given."""
