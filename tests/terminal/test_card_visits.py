"""What card visits give the terminal: a face result for every check-in at this institution's reader,
and medication and checkup results only under a consent given at such a visit."""

import time
import xml.etree.ElementTree as ET
from pathlib import Path

from sqlalchemy import update

from app.service.models import Consent
from payer_registry.clock import now_utc
from payer_registry.models import table_of
from tests.api.conftest import present_card
from tests.terminal.conftest import CLINIC, field

PERSON_NUMBERS = (
    "<InsurerNumber>06139992</InsurerNumber><InsuranceCardSymbol>12-34</InsuranceCardSymbol>"
    "<InsuredPersonIdentificationNumber>5678</InsuredPersonIdentificationNumber>"
    "<BranchNumber>01</BranchNumber>"
)


def records_request(start: str = "20200101") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader>'
        f"<MedicalInstitutionCode>{CLINIC}</MedicalInstitutionCode>{PERSON_NUMBERS}"
        "<ArbitraryFileIdentifier>R1</ArbitraryFileIdentifier></MessageHeader><MessageBody>"
        f"<StartDate>{start}</StartDate><EndDate>20301231</EndDate><FileCategory>2</FileCategory>"
        "<PrDiInfClassification>1</PrDiInfClassification><MedicalTreatmentFlag>1</MedicalTreatmentFlag>"
        "</MessageBody></XmlMsg>"
    )


def face_results(folder: Path, timeout: float = 15.0) -> list[Path]:
    deadline = time.monotonic() + timeout
    while not (found := sorted(folder.glob("OQSsiquc01res_face_*.xml"))):
        assert time.monotonic() < deadline, "no face result"
        time.sleep(0.05)
    return found


def test_a_card_visit_writes_a_face_result_with_its_consents(terminal, client, keys, card):
    visit = present_card(
        client, keys["clinic"], card, {"medication": True, "limit_certificate": True}
    )
    assert visit.status_code == 201
    (path,) = face_results(terminal.res)
    assert path.name.startswith(f"OQSsiquc01res_face_{CLINIC}")
    result = ET.fromstring(path.read_bytes())
    assert field(result, "ReferenceClassification") == "1"
    assert field(result, "QualificationValidity") == "1"
    assert field(result, "PharmacistsInfoConsFlg") == "1"  # medication: given
    assert len(field(result, "PharmacistsInfoAvailableTime")) == 14
    assert field(result, "SpecificHealthCheckupsInfoConsFlg") == "0"  # offered, not given
    assert field(result, "OperationInfoConsFlg") == "3"  # not offered by this reader: not asked
    assert field(result, "LimitApplicationCertificateClassificationFlag") == "A03"
    assert field(result, "SpecificDiseasesCertificateRelatedConsFlg") == "0"


def test_another_institutions_visit_writes_nothing(terminal, client, keys, card):
    assert present_card(client, keys["pharmacy"], card, {"medication": True}).status_code == 201
    time.sleep(1.5)
    assert list(terminal.res.glob("OQSsiquc01res_face_*")) == []


def test_medications_under_a_consent_given_at_a_card_visit(terminal, client, keys, card):
    present_card(client, keys["clinic"], card, {"medication": True})
    result = terminal.exchange("YZKsiquc01req_1.xml", records_request())
    assert field(result, "ResultCode") == "1"
    assert field(result, "KanaName") == "ﾔﾏﾀﾞ ﾀﾛｳ"
    assert field(result, "MeTrMonth") == "202405"
    assert (field(result, "DrugC"), field(result, "Times"), field(result, "Qua1")) == (
        "2171022F1234",
        "28",
        "1",
    )
    assert field(result, "MeTrDiHCd") == "1341234567"


def test_without_consent_the_records_are_refused(terminal, client, keys, card):
    present_card(client, keys["clinic"], card, {"checkup": True})
    refused = terminal.exchange("YZKsiquc01req_2.xml", records_request())
    assert (field(refused, "ResultCode"), field(refused, "ErrorCode")) == ("2", "CONSENT_REQUIRED")
    assert field(refused, "MessageContents")
    assert refused.find(".//DrugInf") is None
    checkups = terminal.exchange("TKKsiquc01req_2.xml", records_request())
    assert field(checkups, "ResultCode") == "1"


def test_an_expired_consent_is_refused_as_expired(terminal, client, keys, card, registry):
    present_card(client, keys["clinic"], card, {"medication": True})
    consents = table_of(Consent)
    with registry.begin() as conn:
        ended = update(consents).where(consents.c.category == "medication")
        conn.execute(ended.values(available_until=now_utc()))  # ended now, not declined
    refused = terminal.exchange("YZKsiquc01req_3.xml", records_request())
    assert field(refused, "ErrorCode") == "CONSENT_EXPIRED"


def test_a_consent_at_another_institution_unlocks_nothing_here(terminal, client, keys, card):
    present_card(client, keys["pharmacy"], card, {"medication": True})
    refused = terminal.exchange("YZKsiquc01req_4.xml", records_request())
    assert field(refused, "ErrorCode") == "CONSENT_REQUIRED"
