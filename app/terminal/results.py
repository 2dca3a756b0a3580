"""Result messages of the terminal's file interface, built as XML trees in the element order real
clients expect (they must not depend on it, but the terminal writes it). Empty optional elements are
left out."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

from app.service.consent import MEDICAL_CATEGORIES
from app.terminal.values import (
    EXPIRED,
    GIVEN,
    NOT_ASKED,
    NOT_GIVEN,
    date_text,
    half_width_kana,
    ratio_text,
    time_text,
)
from payer_registry.eligibility import RELATIONSHIP_CODES, VALIDITY_CODES, Validity
from payer_registry.identifiers import is_late_stage_elderly

NORMAL_END, IN_PROGRESS, ABNORMAL_END = "1", "2", "9"  # SegmentOfResult
BY_CARD, BY_NUMBERS = "1", "2"  # ReferenceClassification
# consent category -> prefix of its flag, time and available-until elements
CONSENT_ELEMENTS = {
    "checkup": "SpecificHealthCheckupsInfo",
    "medication": "PharmacistsInfo",
    "clinical": "DiagnosisInfo",
    "surgery": "OperationInfo",
}
# validities that answer with one qualification found (ProcessingResultStatus 1)
FOUND = {Validity.VALID, Validity.INVALID, Validity.INVALID_NEW_EXISTS}
NOT_FOUND_MESSAGES = {
    Validity.NOT_FOUND: ("QUALIFICATION_NOT_FOUND", "該当する資格がありません"),
    Validity.MULTIPLE: ("MULTIPLE_QUALIFICATIONS", "複数の資格が該当しました"),
}


def add(parent: ET.Element, name: str, value: object = None) -> ET.Element | None:
    """Append ``<name>value</name>`` unless the value is empty."""
    if value is None or value == "":
        return None
    element = ET.SubElement(parent, name)
    element.text = str(value)
    return element


def envelope() -> tuple[ET.Element, ET.Element, ET.Element]:
    root = ET.Element("XmlMsg")
    return root, ET.SubElement(root, "MessageHeader"), ET.SubElement(root, "MessageBody")


def abnormal_end(now: dt.datetime, code: str, message: str, character_code: str) -> ET.Element:
    """A result for a request that could not be answered: ``SegmentOfResult`` 9 and why."""
    root, head, _ = envelope()
    add(head, "ProcessExecutionTime", time_text(now))
    add(head, "SegmentOfResult", ABNORMAL_END)
    add(head, "ErrorCode", code)
    add(head, "ErrorMessage", message)
    add(head, "CharacterCodeIdentifier", character_code)
    return root


class ConfirmationResult:
    """An individual confirmation result (``OQSsiquc01res``, also the face results)."""

    def __init__(self, header: Mapping[str, Any], character_code: str) -> None:
        self.root, head, self.body = envelope()
        add(head, "ProcessExecutionTime", time_text(header["now"]))
        add(head, "QualificationConfirmationDate", date_text(header["confirmation_date"]))
        add(head, "MedicalInstitutionCode", header["institution_code"])
        add(head, "ArbitraryFileIdentifier", header.get("file_identifier"))
        add(head, "ReferenceClassification", header["reference"])
        add(head, "SegmentOfResult", NORMAL_END)
        add(head, "CharacterCodeIdentifier", character_code)

    def answer(
        self,
        eligibility: Mapping[str, Any],
        consents: ConsentFlags,
    ) -> ET.Element:
        processing_status(self.body, eligibility)
        results = ET.SubElement(self.body, "ResultList")
        if eligibility.get("insurer_number"):
            qualification(results, eligibility, consents)
        return self.root


def processing_status(parent: ET.Element, eligibility: Mapping[str, Any]) -> None:
    validity = Validity(eligibility["validity"])
    if validity in FOUND:
        add(parent, "ProcessingResultStatus", "1")
    else:
        code, message = NOT_FOUND_MESSAGES[validity]
        add(parent, "ProcessingResultStatus", "2")
        add(parent, "ProcessingResultCode", code)
        add(parent, "ProcessingResultMessage", message)
    add(parent, "QualificationValidity", VALIDITY_CODES[validity])


class ConsentFlags:
    """The consent flags, times and limits a result carries."""

    def __init__(
        self,
        given: Iterable[Mapping[str, Any]] = (),
        offered: Iterable[str] = (),
        at_card: bool = False,
        limit_consent_time: dt.datetime | None = None,
    ) -> None:
        self.given = {consent["category"]: consent for consent in given}
        self.offered = set(offered)
        self.at_card = at_card
        self.limit_consent_time = limit_consent_time

    def flag(self, category: str, now: dt.datetime) -> str:
        consent = self.given.get(category)
        if consent is not None:
            return GIVEN if consent["available_until"] > now else EXPIRED
        return NOT_GIVEN if category in self.offered or not self.at_card else NOT_ASKED

    def time(self, category: str) -> dt.datetime | None:
        consent = self.given.get(category)
        if consent is not None:
            moment: dt.datetime = consent["consented_at"]
            return moment
        return self.limit_consent_time if category == "limit_certificate" else None


def qualification(
    parent: ET.Element, eligibility: Mapping[str, Any], consents: ConsentFlags
) -> ET.Element:
    """One ``ResultOfQualificationConfirmation``."""
    unit = ET.SubElement(parent, "ResultOfQualificationConfirmation")
    _person(unit, eligibility)
    _coverage(unit, eligibility)
    _elderly(unit, eligibility.get("elderly_certificate"))
    _limit(unit, eligibility, consents)
    _specific_diseases(unit, eligibility, consents)
    if consents.at_card:
        _medical_consents(unit, consents)
    return unit


def _person(unit: ET.Element, e: Mapping[str, Any]) -> None:
    add(unit, "InsuredCardClassification", e.get("card_classification"))
    add(unit, "InsurerNumber", e.get("insurer_number"))
    add(unit, "InsuredCardSymbol", e.get("symbol"))
    add(unit, "InsuredIdentificationNumber", e.get("number"))
    add(unit, "InsuredBranchNumber", e.get("branch"))
    add(unit, "PersonalFamilyClassification", RELATIONSHIP_CODES.get(e.get("relationship", "")))
    add(unit, "InsuredName", e.get("insured_name"))
    add(unit, "Name", e.get("name"))
    add(unit, "NameKana", half_width_kana(e.get("name_kana")))
    add(unit, "Sex1", e.get("sex"))
    add(unit, "Birthdate", date_text(e.get("birth_date")))
    add(unit, "Address", e.get("address"))
    add(unit, "PostNumber", e.get("post_code"))


def _coverage(unit: ET.Element, e: Mapping[str, Any]) -> None:
    add(unit, "QualificationDate", date_text(e.get("acquired_on")))
    add(unit, "DisqualificationDate", date_text(e.get("lost_on")))
    add(unit, "InsuredCertificateIssuanceDate", date_text(e.get("certificate_issued_on")))
    add(unit, "InsuredCardValidDate", date_text(e.get("card_valid_from")))
    add(unit, "InsuredCardExpirationDate", date_text(e.get("card_valid_until")))
    if is_late_stage_elderly(e.get("insurer_number", "")):
        add(unit, "InsuredPartialContributionRatio", ratio_text(e.get("copay_ratio")))
    add(unit, "PreschoolClassification", "1" if e.get("preschool") else None)
    add(unit, "ReasonOfLoss", e.get("loss_reason"))
    add(unit, "InsurerName", e.get("insurer_name"))


def _elderly(unit: ET.Element, certificate: Mapping[str, Any] | None) -> None:
    if not certificate:
        return
    info = ET.SubElement(unit, "ElderlyRecipientCertificateInfo")
    add(info, "ElderlyRecipientCertificateDate", date_text(certificate.get("issued_on")))
    add(info, "ElderlyRecipientValidStartDate", date_text(certificate.get("valid_from")))
    add(info, "ElderlyRecipientValidEndDate", date_text(certificate.get("valid_until")))
    add(info, "ElderlyRecipientContributionRatio", ratio_text(certificate.get("copay_ratio")))


def _consent_pair(unit: ET.Element, prefix: str, given: bool, at: dt.datetime | None) -> None:
    add(unit, f"{prefix}ConsFlg", GIVEN if given else NOT_GIVEN)
    add(unit, f"{prefix}ConsTime", time_text(at) if given else None)


def _limit(unit: ET.Element, e: Mapping[str, Any], consents: ConsentFlags) -> None:
    given = "limit_certificate" in e
    _consent_pair(
        unit, "LimitApplicationCertificateRelated", given, consents.time("limit_certificate")
    )
    certificate = e.get("limit_certificate")
    if not certificate:
        return
    info = ET.SubElement(unit, "LimitApplicationCertificateRelatedInfo")
    add(info, "LimitApplicationCertificateClassification", certificate.get("classification"))
    add(info, "LimitApplicationCertificateClassificationFlag", certificate.get("bracket_code"))
    add(info, "LimitApplicationCertificateDate", date_text(certificate.get("issued_on")))
    add(info, "LimitApplicationCertificateValidStartDate", date_text(certificate.get("valid_from")))
    add(info, "LimitApplicationCertificateValidEndDate", date_text(certificate.get("valid_until")))
    add(info, "LimitApplicationCertificateLongTermDate", date_text(certificate.get("long_term_on")))


def _specific_diseases(unit: ET.Element, e: Mapping[str, Any], consents: ConsentFlags) -> None:
    if not consents.at_card:
        return  # only a card visit can carry this consent
    given = "specific_diseases" in e
    _consent_pair(
        unit, "SpecificDiseasesCertificateRelated", given, consents.time("specific_diseases")
    )
    certificates = e.get("specific_diseases") or []
    if not certificates:
        return
    listing = ET.SubElement(unit, "SpecificDiseasesCertificateList")
    for certificate in certificates:
        info = ET.SubElement(listing, "SpecificDiseasesCertificateInfo")
        add(info, "SpecificDiseasesDiseaseCategory", certificate.get("category"))
        add(info, "SpecificDiseasesCertificateDate", date_text(certificate.get("issued_on")))
        add(info, "SpecificDiseasesValidStartDate", date_text(certificate.get("valid_from")))
        add(info, "SpecificDiseasesValidEndDate", date_text(certificate.get("valid_until")))
        add(info, "SpecificDiseasesSelfPay", certificate.get("self_pay_limit"))


def _medical_consents(unit: ET.Element, consents: ConsentFlags) -> None:
    now = dt.datetime.now(dt.UTC)
    for category in MEDICAL_CATEGORIES:
        prefix = CONSENT_ELEMENTS[category]
        add(unit, f"{prefix}ConsFlg", consents.flag(category, now))
        consent = consents.given.get(category)
        if consent is not None:
            add(unit, f"{prefix}ConsTime", time_text(consent["consented_at"]))
            add(unit, f"{prefix}AvailableTime", time_text(consent["available_until"]))


def bulk_accepted(
    now: dt.datetime, institution_code: str, file_identifier: str | None, reception_number: str,
    character_code: str,
) -> ET.Element:  # fmt: skip
    """``OQSmuquc01res``: the reception number (受付番号) of a bulk pre-check."""
    root, head, body = envelope()
    add(head, "ProcessExecutionTime", time_text(now))
    add(head, "MedicalInstitutionCode", institution_code)
    add(head, "ArbitraryFileIdentifier", file_identifier)
    add(head, "CharacterCodeIdentifier", character_code)
    add(body, "ReceptionNumber", reception_number)
    add(body, "ReceptionDateTime", time_text(now))
    return root


SEGMENT_OF_BATCH = {"queued": IN_PROGRESS, "running": IN_PROGRESS, "done": NORMAL_END}


def bulk_results(
    now: dt.datetime, institution_code: str, batch: Mapping[str, Any], character_code: str
) -> ET.Element:
    """``OQSmuquc02res``: counts and one unit per answered line; ``SegmentOfResult`` 2 while the
    pre-check still runs."""
    root, head, body = envelope()
    add(head, "ProcessExecutionTime", time_text(now))
    add(head, "QualificationConfirmationDate", date_text(batch.get("confirmation_date")))
    add(head, "MedicalInstitutionCode", institution_code)
    add(head, "ReceptionNumber", batch["reception_number"])
    add(head, "SegmentOfResult", SEGMENT_OF_BATCH.get(batch["status"], ABNORMAL_END))
    if batch["status"] == "failed":
        add(head, "ErrorCode", "BATCH_FAILED")
        add(head, "ErrorMessage", "the pre-check could not be completed; submit it again")
    add(head, "NumberOfProcessingResult", batch["processed"])
    add(head, "NumberOfNormalProcessing", batch["normal"])
    add(head, "NumberOfError", batch["error"])
    add(head, "CharacterCodeIdentifier", character_code)
    for line in batch["results"]:
        if line["eligibility"] is not None or line.get("error"):
            _bulk_unit(body, line)
    return root


def _bulk_unit(body: ET.Element, line: Mapping[str, Any]) -> None:
    unit = ET.SubElement(body, "BulkConfirmUnit")
    inquiry, eligibility = line["inquiry"] or {}, line["eligibility"]
    info = ET.SubElement(unit, "QualificationConfirmSearchInfo")
    add(info, "InsurerNumber", inquiry.get("insurer_number"))
    add(info, "InsuredCardSymbol", inquiry.get("symbol"))
    add(info, "InsuredIdentificationNumber", inquiry.get("number"))
    add(info, "InsuredBranchNumber", inquiry.get("branch"))
    add(info, "Birthdate", date_text(inquiry.get("birth_date")))
    consent_flag = "1" if inquiry.get("limit_certificate_consent") else "0"
    add(info, "LimitApplicationCertificateRelatedConsFlg", consent_flag)
    add(info, "ArbitraryIdentifier", inquiry.get("arbitrary_identifier"))
    if eligibility is None:  # the line could not be answered; the others were
        add(unit, "ProcessingResultStatus", "2")
        add(unit, "ProcessingResultCode", line["error"]["code"])
        add(unit, "ProcessingResultMessage", line["error"]["message"])
        add(unit, "ReferenceNumber", line["position"] + 1)
        return
    processing_status(unit, eligibility)
    if eligibility.get("insurer_number"):
        found = qualification(unit, eligibility, ConsentFlags())
        add(found, "LimitApplicationCertificateChanged", "1")  # not tracked: changed or unknown
    add(unit, "ReferenceNumber", line["position"] + 1)


def records_header(
    now: dt.datetime, institution_code: str, file_identifier: str | None, character_code: str,
    refusal: tuple[str, str] | None = None,
) -> tuple[ET.Element, ET.Element]:  # fmt: skip
    """A medication or checkup result's envelope: ``ResultCode`` 1, or 2 with the refusal."""
    root, head, body = envelope()
    add(head, "ProcessExecutionTime", time_text(now))
    add(head, "MedicalInstitutionCode", institution_code)
    add(head, "ArbitraryFileIdentifier", file_identifier)
    add(head, "ResultCode", "1" if refusal is None else "2")
    if refusal is not None:
        add(head, "ErrorCode", refusal[0])
        add(head, "MessageContents", refusal[1])
    add(head, "CharacterCodeIdentifier", character_code)
    return root, body


def medication_body(
    body: ET.Element, person: Mapping[str, Any], items: list[dict[str, Any]]
) -> None:
    """``QuaInf`` and one ``MeTrMonthInf`` per dispensing institution and month, newest first."""
    quality = ET.SubElement(body, "QuaInf")
    add(quality, "Name", person["name"])
    add(quality, "KanaName", half_width_kana(person["name_kana"]))
    add(quality, "Birth", date_text(person["birth_date"]))
    add(quality, "AdmGendCode", person["sex"])
    months: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for item in items:
        month = date_text(item["dispensed_on"]) or ""
        key = (item["dispenser_code"], item["prescriber_code"], month[:6])
        months.setdefault(key, []).append(item)
    for (_, _, month), dispensed in months.items():
        _month(body, month, dispensed)


def _month(body: ET.Element, month: str, items: list[dict[str, Any]]) -> None:
    first = items[0]
    info = ET.SubElement(body, "MeTrMonthInf")
    add(info, "DiOrg", "1" if first["in_house"] else "2")  # 1 institution, 2 pharmacy
    add(info, "MeTrDiHCd", first["dispenser_code"])
    add(info, "MeTrDiHNm", first["dispenser_name"])
    add(info, "PrlsHCd", first["prescriber_code"])
    add(info, "PrlsHNm", first["prescriber_name"])
    add(info, "MeTrMonth", month)
    add(info, "InOut", "1" if first["in_house"] else "2")  # 1 in-house, 2 outside prescription
    dates = ET.SubElement(info, "DiDateInfs")
    by_day: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for item in items:
        day = (date_text(item["dispensed_on"]) or "", date_text(item["prescribed_on"]) or "")
        by_day.setdefault(day, []).append(item)
    for (dispensed, prescribed), drugs in by_day.items():
        day_info = ET.SubElement(dates, "DiDateInf")
        add(day_info, "DiDate", dispensed)
        add(day_info, "PrDate", prescribed)
        listing = ET.SubElement(day_info, "DrugInfs")
        for drug in drugs:
            _drug(listing, drug)


def _drug(listing: ET.Element, drug: Mapping[str, Any]) -> None:
    info = ET.SubElement(listing, "DrugInf")
    add(info, "DrugC", drug["drug_code"])
    add(info, "DrugN", drug["drug_name"])
    add(info, "IngreN", drug["ingredient"])
    add(info, "Qua1", _number(drug["quantity"]))
    add(info, "Unit", drug["unit"])
    add(info, "UsageN", drug["usage"])
    add(info, "Times", drug["days"])


def checkup_body(body: ET.Element, person: Mapping[str, Any], items: list[dict[str, Any]]) -> None:
    """``QualificationsInfo`` and one ``SpecificHealthCheckupInfo`` per examination."""
    quality = ET.SubElement(body, "QualificationsInfo")
    add(quality, "Name", person["name"])
    add(quality, "KanasName", half_width_kana(person["name_kana"]))
    add(quality, "Birthday", date_text(person["birth_date"]))
    add(quality, "AdministrativeGenderCode", person["sex"])
    for checkup in items:
        info = ET.SubElement(body, "SpecificHealthCheckupInfo")
        add(info, "EffectiveTime", date_text(checkup["examined_on"]))
        results = ET.SubElement(info, "HealthCheckupResultAndQuestionInfos")
        for item in checkup["items"]:
            result = ET.SubElement(results, "HealthCheckupResultAndQuestionInfo")
            add(result, "ItemCode", item["code"])
            add(result, "ItemName", item["name"])
            add(result, "DataType", "CO" if "text" in item else "PQ")  # coded / physical quantity
            add(result, "DataValue", _number(item["value"]))
            add(result, "Unit", item["unit"])
            add(result, "DataValueName", item.get("text"))


def _number(value: object) -> object:
    """12.0 -> 12, other values as they are."""
    return int(value) if isinstance(value, float) and value.is_integer() else value
