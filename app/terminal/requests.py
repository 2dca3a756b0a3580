"""Request messages of the terminal's file interface, read from their XML into typed requests.

A file's message type comes from its name (``OQSsiquc01req_…``); element order is not relied on, as
real clients do not always keep it."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from app.service.checks import NumbersCheck
from app.terminal.values import parse_date
from payer_registry.confirmation import Inquiry
from payer_registry.identifiers import IdentifierError, InsuredNumber, insured_number

# message type -> what it asks
MESSAGE_TYPES = {
    "OQSsiquc01req": "individual confirmation by numbers (個別照会)",
    "OQSmuquc01req": "bulk pre-check (一括照会) submission",
    "OQSmuquc02req": "bulk pre-check result",
    "YZKsiquc01req": "medication information (薬剤情報)",
    "TKKsiquc01req": "specific health checkup information (特定健診情報)",
}
_TYPE = re.compile(r"^(OQSsiquc01|OQSmuquc01|OQSmuquc02|YZKsiquc01|TKKsiquc01)req(?=[_.])")
MAX_BULK_LINES = 20_000


class MessageError(ValueError):
    """A request the terminal answers with an abnormal end: a stable ``code`` and a message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def message_type(file_name: str) -> str:
    """``OQSsiquc01req`` and the like, from the request file's name."""
    found = _TYPE.match(file_name)
    if found is None:
        raise MessageError("UNKNOWN_MESSAGE", f"{file_name}: not a request this terminal answers")
    return found.group(0)


def result_name(file_name: str) -> str:
    """The result file's name: the request's with its ``req`` part turned into ``res``."""
    found = re.search(r"(\d\d)req", file_name)
    if found is None:
        return f"res_{file_name}"
    return f"{file_name[: found.start()]}{found.group(1)}res{file_name[found.end() :]}"


class Fields:
    """Reading a request's elements by name (anywhere below a section), with clear errors."""

    def __init__(self, root: ET.Element) -> None:
        if root.tag != "XmlMsg":
            raise MessageError("XML_ROOT_INVALID", f"the root element is {root.tag}, not XmlMsg")
        self.header = _section(root, "MessageHeader")
        self.body = _section(root, "MessageBody")

    @staticmethod
    def optional(section: ET.Element, name: str) -> str | None:
        found = section.find(f".//{name}")
        text = (found.text or "").strip() if found is not None else ""
        return text or None

    def required(self, section: ET.Element, name: str) -> str:
        value = self.optional(section, name)
        if value is None:
            raise MessageError("FIELD_MISSING", f"{section.tag}/{name} is missing or empty")
        return value

    def date(self, section: ET.Element, name: str, required: bool = True) -> dt.date | None:
        text = self.required(section, name) if required else self.optional(section, name)
        if text is None:
            return None
        try:
            return parse_date(text)
        except ValueError:
            raise MessageError(
                "FIELD_INVALID", f"{name}: {text!r} is not a YYYYMMDD date"
            ) from None


def _section(root: ET.Element, name: str) -> ET.Element:
    found = root.find(name)
    if found is None:
        raise MessageError("FIELD_MISSING", f"XmlMsg/{name} is missing")
    return found


@dataclass(frozen=True, slots=True)
class Header:
    institution_code: str
    file_identifier: str | None
    confirmation_date: dt.date | None


def header(fields: Fields) -> Header:
    return Header(
        fields.required(fields.header, "MedicalInstitutionCode"),
        fields.optional(fields.header, "ArbitraryFileIdentifier"),
        fields.date(fields.header, "QualificationConfirmationDate", required=False),
    )


def search_info(fields: Fields, info: ET.Element) -> tuple[NumbersCheck, str | None]:
    """One ``QualificationConfirmSearchInfo``: the check it asks and its ``ArbitraryIdentifier``."""
    insurer = fields.required(info, "InsurerNumber").strip()
    symbol = fields.optional(info, "InsuredCardSymbol") or ""
    number = fields.required(info, "InsuredIdentificationNumber")
    branch = fields.optional(info, "InsuredBranchNumber")
    _validated(insurer, symbol, number, branch or "00")
    birth = fields.date(info, "Birthdate")
    consent_flag = fields.optional(info, "LimitApplicationCertificateRelatedConsFlg") or "0"
    if consent_flag not in ("0", "1"):
        raise MessageError(
            "FIELD_INVALID",
            f"LimitApplicationCertificateRelatedConsFlg: {consent_flag!r} is not 0 or 1",
        )
    inquiry = Inquiry(insurer, symbol, number, branch, birth)
    check = NumbersCheck(inquiry, limit_certificate_consent=consent_flag == "1")
    return check, fields.optional(info, "ArbitraryIdentifier")


def search_infos(fields: Fields) -> list[tuple[NumbersCheck, str | None]]:
    infos = fields.body.findall(".//QualificationConfirmSearchInfo")
    if not infos:
        raise MessageError("FIELD_MISSING", "MessageBody/QualificationConfirmSearchInfo is missing")
    if len(infos) > MAX_BULK_LINES:
        raise MessageError(
            "TOO_MANY_LINES", f"at most {MAX_BULK_LINES} lines in one bulk pre-check"
        )
    return [search_info(fields, info) for info in infos]


def _validated(insurer: str, symbol: str, number: str, branch: str) -> InsuredNumber:
    try:
        return insured_number(insurer, symbol, number, branch)
    except IdentifierError as error:
        raise MessageError("FIELD_INVALID", f"insured number: {error}") from None


@dataclass(frozen=True, slots=True)
class RecordsRequest:
    """A medication or checkup request: whose records, over which dates."""

    institution_code: str
    file_identifier: str | None
    insured_number: str  # canonical INSURER:SYMBOL:NUMBER:BRANCH
    date_from: dt.date | None
    date_to: dt.date | None


def records_request(fields: Fields) -> RecordsRequest:
    head = fields.header
    number = _validated(
        fields.required(head, "InsurerNumber").strip(),
        fields.optional(head, "InsuranceCardSymbol") or "",
        fields.required(head, "InsuredPersonIdentificationNumber"),
        fields.required(head, "BranchNumber"),
    )
    file_category = fields.optional(fields.body, "FileCategory") or "2"
    if file_category != "2":
        raise MessageError(
            "FILE_CATEGORY_UNSUPPORTED", "only XML results (FileCategory 2) are made"
        )
    return RecordsRequest(
        fields.required(head, "MedicalInstitutionCode"),
        fields.optional(head, "ArbitraryFileIdentifier"),
        str(number),
        fields.date(fields.body, "StartDate", required=False),
        fields.date(fields.body, "EndDate", required=False),
    )
