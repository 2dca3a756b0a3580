"""Confirmation against the registry: every validity code of docs/rules.md §2, by numbers and by person."""

import datetime as dt

import pytest

from payer_registry.confirmation import Inquiry, confirm_by_numbers, confirm_person
from payer_registry.eligibility import RELATIONSHIP_CODES, VALIDITY_CODES, Validity
from payer_registry.presenting import confirmation_dict
from payer_registry.records import PERSON_RECORD
from payer_registry.writer import upsert_record
from tests.registry.conftest import BASE_RECORD, qualification, with_details


@pytest.fixture
def people(registry, make_record):
    """A job changer, a family with twins on an old card without branch, and a lost qualification."""
    records = {
        "changer": make_record(
            qualifications=[
                qualification("06139992:12-34:5678:01", "2015-04-01", "2024-07-01", "03"),
                qualification("01130012:99:1234:00", "2024-07-01"),
            ]
        ),
        "twin_a": make_record(
            name="鈴木 一",
            birth_date="2012-06-01",
            qualifications=[qualification("01270016:5:42:02", "2012-06-01", relationship="family")],
        ),
        "twin_b": make_record(
            name="鈴木 二",
            birth_date="2012-06-01",
            qualifications=[qualification("01270016:5:42:03", "2012-06-01", relationship="family")],
        ),
        "lost": make_record(
            qualifications=[qualification("39131008::7:00", "2020-01-01", "2023-02-01", "01")],
            birth_date="1940-01-01",
        ),
    }
    with registry.begin() as conn:
        return {key: upsert_record(conn, PERSON_RECORD.load(r)) for key, r in records.items()}


AT = dt.date(2024, 9, 1)


@pytest.mark.parametrize(
    ("inquiry", "validity"),
    [
        (Inquiry("06139992", "12-34", "5678", "01"), Validity.INVALID_NEW_EXISTS),
        (Inquiry("01130012", "99", "1234", "00"), Validity.VALID),
        (Inquiry("01270016", "5", "42", None), Validity.MULTIPLE),
        (Inquiry("01270016", "5", "42", "02"), Validity.VALID),
        (Inquiry("39131008", "", "7", "00"), Validity.INVALID),
        (Inquiry("39131008", "", "7", "01"), Validity.NOT_FOUND),
        (Inquiry("06139992", "12-34", "567", "01"), Validity.NOT_FOUND),
        (Inquiry("01130012", "99", "1234", "00", dt.date(1999, 1, 1)), Validity.NOT_FOUND),
    ],
)
def test_validity_by_numbers(registry, people, inquiry, validity):
    with registry.connect() as conn:
        result = confirm_by_numbers(conn, inquiry, AT)
    assert result.validity is validity
    assert confirmation_dict(result)["validity_code"] == VALIDITY_CODES[validity]


def test_every_validity_and_relationship_has_the_real_systems_code():
    assert VALIDITY_CODES == {
        Validity.VALID: "1",
        Validity.INVALID: "2",
        Validity.INVALID_NEW_EXISTS: "3",
        Validity.NOT_FOUND: "4",
        Validity.MULTIPLE: "5",
    }
    assert list(VALIDITY_CODES) == list(Validity)
    assert RELATIONSHIP_CODES == {"self": "1", "family": "2"}


def test_the_result_carries_the_certificate_details(registry):
    record = with_details(BASE_RECORD)
    record["qualifications"][0] |= {"relationship": "family", "card_classification": "06"}
    record["limit_certificates"][0] |= {"classification": "02", "long_term_on": "2024-10-01"}
    record["elderly_certificates"] = [
        {"copay_ratio": 20, "valid_from": "2024-08-01", "valid_until": None}
        | {"issued_on": "2024-07-18"}
    ]
    record["specific_disease_certificates"] = [
        {"category": "1", "self_pay_limit": 10_000, "valid_from": "2020-04-01"}
        | {"issued_on": "2020-03-25"}
    ]
    with registry.begin() as conn:
        person_id = upsert_record(conn, PERSON_RECORD.load(record))
    with registry.connect() as conn:
        data = confirmation_dict(confirm_person(conn, person_id, dt.date(2024, 11, 1)))
    assert (data["validity_code"], data["relationship_code"]) == ("1", "2")
    assert data["post_code"] == "100-0013"
    assert data["card_classification"] == "06"
    dates = ("certificate_issued_on", "card_valid_from", "card_valid_until")
    assert [data[name] for name in dates] == [dt.date(2015, 4, 1), dt.date(2015, 4, 1), None]
    limit = data["limit_certificate"]
    assert (limit["issued_on"], limit["long_term_on"]) == (
        dt.date(2024, 8, 1),
        dt.date(2024, 10, 1),
    )
    assert data["elderly_certificate"]["issued_on"] == dt.date(2024, 7, 18)
    assert [d["issued_on"] for d in data["specific_diseases"]] == [dt.date(2020, 3, 25)]


def test_birth_date_narrows_a_card_without_branch(registry, people):
    with registry.connect() as conn:
        result = confirm_by_numbers(
            conn, Inquiry("01270016", "5", "42", None, dt.date(2012, 6, 1)), AT
        )
    assert result.validity is Validity.MULTIPLE  # twins share the birth date: still several


def test_by_card_the_qualification_in_force_wins(registry, people):
    with registry.connect() as conn:
        result = confirm_person(conn, people["changer"], AT)
        before = confirm_person(conn, people["changer"], dt.date(2024, 6, 30))
    assert (result.validity, result.qualification.insurer_number) == (Validity.VALID, "01130012")
    assert (before.validity, before.qualification.insurer_number) == (Validity.VALID, "06139992")
    assert result.copay_ratio == 30
    assert result.limit_certificate["bracket_code"] == "A03"


def test_by_card_a_lost_qualification_is_invalid(registry, people):
    with registry.connect() as conn:
        result = confirm_person(conn, people["lost"], AT)
        early = confirm_person(conn, people["lost"], dt.date(2019, 1, 1))
    assert result.validity is Validity.INVALID
    assert result.copay_ratio == 10
    assert early.validity is Validity.NOT_FOUND


def test_preschool_child_pays_20_percent(registry, people):
    with registry.connect() as conn:
        result = confirm_by_numbers(
            conn, Inquiry("01270016", "5", "42", "02"), dt.date(2018, 3, 31)
        )
    assert (result.preschool, result.copay_ratio) == (True, 20)
