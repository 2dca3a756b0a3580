"""The eligibility terminal (資格確認端末) as one institution: each request message answered through the
same use cases, consent rules and audit as the JSON API. No files here: ``answer`` takes a request's
name and bytes and gives the result's, so another transport could carry the same messages."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from typing import Any

from app.service.accounts import institution
from app.service.batches import batch_view, submit_batch
from app.service.checks import check_numbers
from app.service.context import ServiceContext
from app.service.errors import ServiceError
from app.service.sessions import VisitRow
from app.service.visits import records_by_number, visit_summary
from app.terminal import results
from app.terminal.requests import (
    Fields,
    Header,
    MessageError,
    header,
    message_type,
    records_request,
    result_name,
    search_infos,
)
from app.terminal.values import time_text
from app.terminal.xmlcodec import RequestFileError, character_code, parse_request, serialize
from payer_registry.clock import now_utc
from payer_registry.eligibility import today_in_japan
from payer_registry.repository import PersonRow

log = logging.getLogger(__name__)
RECORD_MESSAGES = {"YZKsiquc01req": "medication", "TKKsiquc01req": "checkup"}
RECORDS_AT_MOST = 1000


class UnknownInstitution(LookupError):
    """The terminal's institution is not registered."""


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    data: bytes


class Terminal:
    """One institution's terminal over a service context."""

    def __init__(self, ctx: ServiceContext, institution_code: str, encoding: str = "utf-8") -> None:
        with ctx.registry.connect() as conn:
            found = institution(conn, institution_code)
        if found is None:
            raise UnknownInstitution(
                f"no institution {institution_code}: register it with `eligsim institution add`"
            )
        self.ctx, self.institution, self.encoding = ctx, found, encoding

    @property
    def code(self) -> str:
        return self.institution.code

    def answer(self, file_name: str, data: bytes) -> Result:
        """The result for one request file; a request that cannot be answered gets an abnormal end
        (``SegmentOfResult`` 9) naming the problem."""
        name, encoding = result_name(file_name), self.encoding
        try:
            parsed = parse_request(data)
            encoding = parsed.encoding
            root = self._dispatch(message_type(file_name), Fields(parsed.root), encoding)
        except (RequestFileError, MessageError) as error:
            root = results.abnormal_end(now_utc(), error.code, str(error), character_code(encoding))
        except ServiceError as error:
            root = results.abnormal_end(
                now_utc(), error.code, error.message, character_code(encoding)
            )
        return Result(name, serialize(root, encoding))

    def _dispatch(self, kind: str, fields: Fields, encoding: str) -> ET.Element:
        code = character_code(encoding)
        if kind in RECORD_MESSAGES:
            return self._records(RECORD_MESSAGES[kind], fields, code)
        head = header(fields)
        self._check_institution(head.institution_code)
        if kind == "OQSsiquc01req":
            return self._individual(fields, head, code)
        if kind == "OQSmuquc01req":
            return self._bulk_submit(fields, head, code)
        return self._bulk_result(fields, code)

    def _check_institution(self, code: str) -> None:
        if code != self.code:
            raise MessageError(
                "INSTITUTION_MISMATCH",
                f"MedicalInstitutionCode {code} is not this terminal's ({self.code})",
            )

    def _individual(self, fields: Fields, head: Header, code: str) -> ET.Element:
        check, _ = search_infos(fields)[0]
        at = head.confirmation_date or today_in_japan()
        now = now_utc()
        answer = check_numbers(self.ctx, self.code, replace(check, confirmation_date=at))
        result = results.ConfirmationResult(
            {
                "now": now,
                "confirmation_date": at,
                "institution_code": self.code,
                "file_identifier": head.file_identifier,
                "reference": results.BY_NUMBERS,
            },
            code,
        )
        limit_time = now if check.limit_certificate_consent else None
        return result.answer(
            answer["eligibility"], results.ConsentFlags(limit_consent_time=limit_time)
        )

    def _bulk_submit(self, fields: Fields, head: Header, code: str) -> ET.Element:
        lines = [
            {
                "insurer_number": check.inquiry.insurer_number,
                "symbol": check.inquiry.symbol,
                "number": check.inquiry.number,
                "branch": check.inquiry.branch,
                "birth_date": check.inquiry.birth_date,
                "limit_certificate_consent": check.limit_certificate_consent,
                "arbitrary_identifier": identifier,
            }
            for check, identifier in search_infos(fields)
        ]
        accepted = submit_batch(self.ctx, self.code, lines, head.confirmation_date)
        return results.bulk_accepted(
            now_utc(), self.code, head.file_identifier, accepted["reception_number"], code
        )

    def _bulk_result(self, fields: Fields, code: str) -> ET.Element:
        number = fields.required(fields.body, "ReceptionNumber")
        batch = batch_view(self.ctx, self.code, number)
        return results.bulk_results(now_utc(), self.code, batch, code)

    def _records(self, category: str, fields: Fields, code: str) -> ET.Element:
        request = records_request(fields)
        self._check_institution(request.institution_code)
        query = {
            "date_from": request.date_from,
            "date_to": request.date_to,
            "page_size": RECORDS_AT_MOST,
        }
        now = now_utc()
        try:
            person, page = records_by_number(
                self.ctx, self.code, request.insured_number, category, query
            )
        except ServiceError as refusal:
            root, _ = results.records_header(
                now, self.code, request.file_identifier, code, (refusal.code, refusal.message)
            )
            return root
        root, body = results.records_header(now, self.code, request.file_identifier, code)
        build = results.medication_body if category == "medication" else results.checkup_body
        build(body, jsonable_person(person), page.items)
        return root

    def face_result(self, visit: VisitRow) -> Result:
        """The result a card visit at this institution produces on its own (the patient checked in at
        the reader), with the consents given there."""
        summary = visit_summary(self.ctx, self.code, visit.id)
        now = now_utc()
        result = results.ConfirmationResult(
            {
                "now": now,
                "confirmation_date": summary["eligibility"].get("confirmed_on"),
                "institution_code": self.code,
                "reference": results.BY_CARD,
            },
            character_code(self.encoding),
        )
        flags = results.ConsentFlags(summary["consents"], self.institution.offered, at_card=True)
        root = result.answer(summary["eligibility"], flags)
        stamp = time_text(visit.confirmed_at)
        name = f"OQSsiquc01res_face_{self.code}{visit.id.replace('-', '')[:12]}_{stamp}.xml"
        return Result(name, serialize(root, self.encoding))


def jsonable_person(person: PersonRow) -> dict[str, Any]:
    return {
        "name": person.name,
        "name_kana": person.name_kana,
        "birth_date": person.birth_date,
        "sex": person.sex,
    }
