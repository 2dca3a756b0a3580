"""Card visits (受付): a challenge for the reader, the card's proof opening a visit with the consents
given at the reader, the visit's eligibility, and the medical records its consents unlock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from app.service import audit, consent
from app.service.accounts import institution
from app.service.audit import Action, Actor, Outcome
from app.service.card_proof import CardProof, prove_card
from app.service.context import ServiceContext
from app.service.errors import ServiceError
from app.service.sessions import (
    VisitCursor,
    VisitRow,
    get_visit,
    open_session,
    open_visit,
    visits_since,
)
from payer_registry.clock import now_utc
from payer_registry.confirmation import confirm_person
from payer_registry.eligibility import JAPAN, today_in_japan
from payer_registry.medical import Page, medical_page
from payer_registry.presenting import confirmation_dict
from payer_registry.repository import PersonRow, find_person


def issue_challenge(
    ctx: ServiceContext, institution_code: str | None, purpose: str
) -> dict[str, Any]:
    """A fresh single-use challenge: ``{session_id, challenge, expires_at}``; ``institution_code``
    is None for the patient's own portal."""
    ttl = dt.timedelta(seconds=ctx.settings.challenge_ttl_seconds)
    with ctx.registry.begin() as conn:
        issued = open_session(conn, institution_code, purpose, ttl)
    return {
        "session_id": issued.session_id,
        "challenge": issued.challenge,
        "expires_at": issued.expires_at,
    }


def open_card_visit(
    ctx: ServiceContext,
    code: str,
    session_id: str,
    proof: CardProof,
    grant: consent.Grant,
    staff_id: str | None = None,
) -> dict[str, Any]:
    """The card's answer checked for institution ``code``: the visit opened, the patient's choice
    for every offered category recorded (given or declined) and audited; its id, eligibility and
    the consents given."""
    with ctx.registry.connect() as conn:
        found = institution(conn, code)
    offered = found.offered if found else ()
    _check_offered(ctx, code, grant, offered, staff_id)
    person = prove_card(ctx, session_id, code, "visit", proof, staff_id, grant.categories)
    with ctx.registry.begin() as conn:
        visit = open_visit(conn, code, person.id, proof.method, staff_id)
        consents = consent.record_choices(
            conn,
            visit.id,
            person.id,
            code,
            grant,
            offered,
            visit.confirmed_at,
            consent.lifetime(ctx.settings.consent_ttl_hours),
        )
        result = confirm_person(conn, person.id, today_in_japan())
        _audit_visit(conn, visit, result.validity, grant, grant.declined(offered))
    return {
        "visit_id": visit.id,
        "eligibility": consent.visible(confirmation_dict(result), grant.categories),
        "consents": consents,
    }


def _check_offered(
    ctx: ServiceContext,
    code: str,
    grant: consent.Grant,
    offered: Collection[str],
    staff_id: str | None,
) -> None:
    """Refuse consents the institution's reader does not offer, auditing each refused category
    (before the card is proven, so the entry names no person)."""
    try:
        grant.check_offered(offered)
    except ServiceError as refusal:
        with ctx.registry.begin() as conn:
            for category in refusal.details["categories"]:
                audit.append(
                    conn,
                    actor=Actor.INSTITUTION,
                    action=Action.CONSENT,
                    outcome=Outcome.CONSENT_NOT_OFFERED,
                    institution_code=code,
                    staff_id=staff_id,
                    category=category,
                )
        raise


def _audit_visit(
    conn: Connection,
    visit: VisitRow,
    validity: audit.AnyOutcome,
    grant: consent.Grant,
    declined: tuple[str, ...],
) -> None:
    """The verification and every choice, appended together (one head update, one insert)."""
    common: dict[str, Any] = {
        "institution_code": visit.institution_code,
        "staff_id": visit.staff_id,
        "person_id": visit.person_id,
        "visit_id": visit.id,
    }
    choices = [(c, Outcome.GIVEN) for c in grant.categories]
    choices += [(c, Outcome.DECLINED) for c in declined]
    audit.append_all(
        conn,
        [
            audit.Entry(Actor.INSTITUTION, Action.CARD_VERIFICATION, validity, **common),
            *(
                audit.Entry(Actor.INSTITUTION, Action.CONSENT, outcome, category=category, **common)
                for category, outcome in choices
            ),
        ],
    )


def own_visit(ctx: ServiceContext, visit_id: str, institution_code: str) -> VisitRow:
    """The visit, when it belongs to the institution (others get NOT_FOUND, not a hint)."""
    with ctx.registry.connect() as conn:
        visit = get_visit(conn, visit_id)
    if visit is None or visit.institution_code != institution_code:
        raise ServiceError("NOT_FOUND", "no such visit")
    return visit


def visit_summary(ctx: ServiceContext, institution_code: str, visit_id: str) -> dict[str, Any]:
    """The visit's eligibility (as of its confirmation day) and what the patient consents to at
    this institution now: a later visit's choices, a decline included, replace this one's. The
    look is audited, shown or refused."""
    visit = _looked_at_visit(ctx, visit_id, institution_code)
    with ctx.registry.connect() as conn:
        consents = consent.current_consents(conn, visit.person_id, institution_code)
        result = confirm_person(conn, visit.person_id, visit.confirmed_at.astimezone(JAPAN).date())
    live = consent.live_categories(consents, now_utc())
    return {
        "visit_id": visit_id,
        "institution_code": visit.institution_code,
        "method": visit.method,
        "confirmed_at": visit.confirmed_at,
        "eligibility": consent.visible(confirmation_dict(result), live),
        "consents": consents,
    }


def _looked_at_visit(ctx: ServiceContext, visit_id: str, institution_code: str) -> VisitRow:
    """``own_visit``, audited: the visit's patient sees the look in their access log; a look at
    another institution's visit names that visit but not its patient."""
    with ctx.registry.connect() as conn:
        visit = get_visit(conn, visit_id)
    own = visit if visit and visit.institution_code == institution_code else None
    look = audit.Entry(
        Actor.INSTITUTION,
        Action.VISIT_VIEW,
        Outcome.SHOWN if own else Outcome.NOT_FOUND,
        institution_code=institution_code,
        person_id=own.person_id if own else None,
        visit_id=visit.id if visit else None,
    )
    audit.append_committed(ctx.registry.engine, look)  # a read-only use case: the group commit
    if own is None:
        raise ServiceError("NOT_FOUND", "no such visit")
    return own


def medical_records(
    ctx: ServiceContext, institution_code: str, visit_id: str, category: str, query: dict[str, Any]
) -> Page:
    """One page of the visit's ``category`` records for the institution that opened it, under a
    live consent; every look (shown or refused) is audited."""
    visit = own_visit(ctx, visit_id, institution_code)
    look = Look(institution_code, visit.person_id, visit.staff_id, visit.id)
    return records_under_consent(ctx, look, category, query)


def records_by_number(
    ctx: ServiceContext,
    institution_code: str,
    insured_number: str,
    category: str,
    query: dict[str, Any],
) -> tuple[PersonRow, Page]:
    """The person holding ``insured_number`` (canonical) and a page of their ``category`` records,
    under a live consent given at a card visit at this institution (as the terminal asks)."""
    with ctx.registry.connect() as conn:
        person = find_person(conn, insured_number)
    if person is None:
        raise ServiceError("NOT_FOUND", "no insured person holds this number")
    look = Look(institution_code, person.id)
    return person, records_under_consent(ctx, look, category, query)


@dataclass(frozen=True, slots=True)
class Look:
    """Who looks at whose records: the institution, the person, and the visit when there is one;
    ``disaster_id`` when the look comes through a disaster search (災害時) instead of a consent."""

    institution_code: str
    person_id: int
    staff_id: str | None = None
    visit_id: str | None = None
    disaster_id: int | None = None


def records_under_consent(
    ctx: ServiceContext, look: Look, category: str, query: dict[str, Any]
) -> Page:
    """A page of records when the look at ``category`` is allowed (``allow_look``)."""
    allow_look(ctx, look, category)
    with ctx.registry.connect() as conn:
        return medical_page(conn, look.person_id, category, **query)


def allow_look(ctx: ServiceContext, look: Look, category: str) -> None:
    """Refuse the look unless the person's consent for ``category`` at the institution is live or,
    for a disaster look, its disaster period is still open to the institution; the look is audited
    (a disaster look as such), shown or refused."""
    with ctx.registry.connect() as conn:
        state, consent_id = _look_state(conn, look, category)
    entry = audit.Entry(
        Actor.INSTITUTION,
        Action.VIEW if look.disaster_id is None else Action.DISASTER_VIEW,
        _VIEW_OUTCOMES[state],
        institution_code=look.institution_code,
        staff_id=look.staff_id,
        person_id=look.person_id,
        category=category,
        visit_id=look.visit_id,
        consent_id=consent_id,
    )
    audit.append_committed(ctx.registry.engine, entry)  # a read-only use case: the group commit
    consent.require_live(state, category)


def _look_state(
    conn: Connection, look: Look, category: str
) -> tuple[consent.ConsentState, int | None]:
    if look.disaster_id is None:
        return consent.consent_state(
            conn, look.person_id, look.institution_code, category, now_utc()
        )
    return consent.disaster_state(conn, look.institution_code, look.disaster_id, now_utc()), None


def visits_after(
    ctx: ServiceContext, institution_code: str, after: VisitCursor | None, limit: int = 100
) -> list[VisitRow]:
    """The institution's card visits confirmed after ``after`` (oldest first)."""
    with ctx.registry.connect() as conn:
        return visits_since(conn, institution_code, after, limit)


_VIEW_OUTCOMES = {
    consent.ConsentState.LIVE: Outcome.SHOWN,
    consent.ConsentState.EXPIRED: Outcome.REFUSED_EXPIRED,
    consent.ConsentState.NONE: Outcome.REFUSED_NONE,
    consent.ConsentState.DISASTER: Outcome.SHOWN,
    consent.ConsentState.NO_DISASTER: Outcome.DISASTER_ACCESS_FORBIDDEN,
}
