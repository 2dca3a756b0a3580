"""Individual confirmation by numbers (OQSsiquc01req) through a running terminal: every validity
code, values as real clients read them, the limit-certificate consent, and its audit."""

import pytest

from app.service.audit import verify_chain
from tests.terminal.conftest import field, individual_request


@pytest.mark.parametrize(
    ("numbers", "validity", "status"),
    [
        ({}, "1", "1"),
        ({"insurer": "06139992", "symbol": "77", "number": "1", "birth": "19850303"}, "3", "1"),
        ({"insurer": "39131008", "symbol": "", "number": "7", "branch": "00", "birth": "19400101"}, "2", "1"),
        ({"number": "0000"}, "4", "2"),
        ({"insurer": "01270016", "symbol": "5", "number": "42", "branch": None, "birth": "20120601"}, "5", "2"),
    ],
)  # fmt: skip
def test_every_validity_code(terminal, numbers, validity, status):
    result = terminal.exchange("OQSsiquc01req_case.xml", individual_request(**numbers))
    assert field(result, "SegmentOfResult") == "1"
    assert field(result, "ReferenceClassification") == "2"
    assert (field(result, "QualificationValidity"), field(result, "ProcessingResultStatus")) == (
        validity,
        status,
    )
    found = result.findall(".//ResultOfQualificationConfirmation")
    assert len(found) == (1 if status == "1" else 0)


def test_values_are_written_as_real_clients_read_them(terminal):
    result = terminal.exchange("OQSsiquc01req_A.xml", individual_request())
    unit = result.find(".//ResultOfQualificationConfirmation")
    assert field(result, "ArbitraryFileIdentifier") == "F001"
    assert field(result, "QualificationConfirmationDate") == "20240901"
    assert field(result, "CharacterCodeIdentifier") == "0"
    assert field(unit, "NameKana") == "ﾔﾏﾀﾞ ﾀﾛｳ"  # half-width katakana, half-width space
    assert field(unit, "Birthdate") == "19800501"
    assert field(unit, "QualificationDate") == "20150401"
    assert field(unit, "InsuredBranchNumber") == "01"
    assert field(unit, "PersonalFamilyClassification") == "1"
    assert field(unit, "InsuredCardClassification") == "01"
    assert [child.tag for child in unit][:4] == [
        "InsuredCardClassification",
        "InsurerNumber",
        "InsuredCardSymbol",
        "InsuredIdentificationNumber",
    ]
    assert unit.find("DisqualificationDate") is None  # empty optional elements are left out


def test_the_limit_certificate_only_with_consent(terminal):
    without = terminal.exchange("OQSsiquc01req_no.xml", individual_request(limit_consent="0"))
    with_consent = terminal.exchange("OQSsiquc01req_yes.xml", individual_request(limit_consent="1"))
    assert field(without, "LimitApplicationCertificateRelatedConsFlg") == "0"
    assert without.find(".//LimitApplicationCertificateRelatedInfo") is None
    assert field(with_consent, "LimitApplicationCertificateRelatedConsFlg") == "1"
    assert field(with_consent, "LimitApplicationCertificateClassificationFlag") == "A03"
    assert len(field(with_consent, "LimitApplicationCertificateRelatedConsTime")) == 14


def test_checks_are_audited_like_the_apis(terminal, registry):
    terminal.exchange("OQSsiquc01req_audit.xml", individual_request(limit_consent="1"))
    with registry.connect() as conn:
        report = verify_chain(conn)
        rows = conn.exec_driver_sql(
            "SELECT action, outcome, institution_code, category FROM audit_log ORDER BY seq"
        ).all()
    assert report.intact
    assert tuple(rows[-1]) == ("eligibility_check", "valid", "1311234567", "limit_certificate")
