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
