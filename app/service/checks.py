"""Eligibility by the numbers on an insurance card, without a card: eligibility only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from app.service import audit, consent
from app.service.audit import Action, Actor
from app.service.context import ServiceContext
from payer_registry.confirmation import Inquiry, confirm_by_numbers
from payer_registry.eligibility import today_in_japan
from payer_registry.presenting import confirmation_dict


@dataclass(frozen=True, slots=True)
class NumbersCheck:
    """An inquiry by numbers and what the staff recorded with it."""

    inquiry: Inquiry
    limit_certificate_consent: bool = False
    confirmation_date: dt.date | None = None
    staff_id: str | None = None

    @classmethod
    def from_request(cls, request: dict[str, Any]) -> NumbersCheck:
        """From the fields of the API's eligibility-check body."""
        inquiry = Inquiry(
            request["insurer_number"],
            request.get("symbol", ""),
            request["number"],
            request.get("branch"),
            request["birth_date"],
        )
        return cls(
            inquiry,
            request.get("limit_certificate_consent", False),
            request.get("confirmation_date"),
            request.get("staff_id"),
        )


def check_numbers(
    ctx: ServiceContext, institution_code: str, check: NumbersCheck
) -> dict[str, Any]:
    """The audited check by numbers for an institution: ``{"eligibility": ...}``, answered once its
    audit entry is committed (through the group commit: the check itself writes nothing)."""
    at = check.confirmation_date or today_in_japan()
    consented = consent.without_card(check.limit_certificate_consent)
    with ctx.registry.read() as conn:
        result = confirm_by_numbers(conn, check.inquiry, at)
    entry = audit.Entry(
        Actor.INSTITUTION,
        Action.ELIGIBILITY_CHECK,
        result.validity,
        institution_code=institution_code,
        staff_id=check.staff_id,
        person_id=result.person.id if result.person else None,
        category="limit_certificate" if consented else None,
    )
    audit.append_committed(ctx.registry.engine, entry)
    return {"eligibility": consent.visible(confirmation_dict(result), consented)}


def audited_request(ctx: ServiceContext, institution_code: str, request_id: str) -> dict[str, Any]:
    """Whether the institution's request ``request_id`` (its ``X-Request-Id``) was audited, with
    the entries it caused: a check whose answer never arrived was answered (and may be repeated
    or not) exactly when it was audited."""
    with ctx.registry.connect() as conn:
        entries = audit.entries_of_request(conn, request_id, institution_code)
    return {"request_id": request_id, "audited": bool(entries), "entries": entries}
