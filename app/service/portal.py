"""The patient's own view (as in マイナポータル): proven with their own card, it shows their
eligibility, data, consents and which institution looked at what, when. Every sign-in (and every
refused one) and every view is audited, as the patient's own acts: the access log, which shows
the institutions' acts only, leaves them out."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.service import audit, consent
from app.service.audit import Action, Actor, Outcome, access_log
from app.service.card_proof import CardProof, prove_card
from app.service.context import ServiceContext
from app.service.disasters import DISASTER_ACTIONS
from app.service.errors import ServiceError
from app.service.prescriptions import checks_of_person
from app.service.sessions import open_portal_session, portal_person
from payer_registry.confirmation import confirm_person
from payer_registry.eligibility import today_in_japan
from payer_registry.medical import Page, medical_page
from payer_registry.presenting import confirmation_dict

PORTAL_SESSION_TTL = dt.timedelta(minutes=30)
# what a portal view audits as its category, besides the records' own categories
ELIGIBILITY_PAGE = "eligibility"
ACCESS_LOG_PAGE = "access_log"
PRESCRIPTION_CHECKS_PAGE = "prescription_checks"


def open_portal(ctx: ServiceContext, session_id: str, proof: CardProof) -> dict[str, Any]:
    """The patient's card proven (PIN mode) for a portal challenge: ``{token, expires_at}``."""
    person = prove_card(
        ctx, session_id, None, "portal", CardProof(proof.certificate, proof.signature)
    )
    with ctx.registry.begin() as conn:
        token, expires_at = open_portal_session(conn, person.id, PORTAL_SESSION_TTL)
        audit.append(
            conn,
            actor=Actor.PATIENT,
            action=Action.PORTAL_SIGN_IN,
            outcome=Outcome.SIGNED_IN,
            person_id=person.id,
        )
    return {"token": token, "expires_at": expires_at}


def patient(ctx: ServiceContext, token: str | None) -> int:
    """The person a live portal token belongs to."""
    with ctx.registry.connect() as conn:
        person_id = portal_person(conn, token) if token else None
    if person_id is None:
        raise ServiceError("AUTH_INVALID", "prove your card again to open the portal")
    return person_id


def viewer(ctx: ServiceContext, token: str | None, page: str) -> int:
    """The person a live portal token belongs to, their view of ``page`` audited before it is shown."""
    person_id = patient(ctx, token)
    view = audit.Entry(
        Actor.PATIENT, Action.PORTAL_VIEW, Outcome.SHOWN, person_id=person_id, category=page
    )
    audit.append_committed(ctx.registry.engine, view)  # a read-only use case: the group commit
    return person_id


def my_view(ctx: ServiceContext, token: str | None) -> dict[str, Any]:
    """My eligibility today (everything the payers hold about it) and every consent I gave."""
    person_id = viewer(ctx, token, ELIGIBILITY_PAGE)
    with ctx.registry.connect() as conn:
        result = confirm_person(conn, person_id, today_in_japan())
        consents = consent.consents_of_person(conn, person_id)
    return {"eligibility": confirmation_dict(result), "consents": consents}


def my_access_log(ctx: ServiceContext, token: str | None) -> dict[str, Any]:
    """Which institution did what with my data, and when (newest first); disaster access (災害時:
    searched or looked at without card or consent) is marked."""
    person_id = viewer(ctx, token, ACCESS_LOG_PAGE)
    with ctx.registry.connect() as conn:
        entries = access_log(conn, person_id)
    return {"entries": [{**e, "disaster_access": e["action"] in DISASTER_ACTIONS} for e in entries]}


def my_prescription_checks(ctx: ServiceContext, token: str | None) -> dict[str, Any]:
    """The duplicate-medication checks (重複投薬等チェック) institutions made on me, newest first."""
    person_id = viewer(ctx, token, PRESCRIPTION_CHECKS_PAGE)
    with ctx.registry.connect() as conn:
        return {"checks": checks_of_person(conn, person_id)}


def my_records(
    ctx: ServiceContext, token: str | None, category: str, query: dict[str, Any]
) -> Page:
    """My own records of a portal category, newest first."""
    if category not in consent.PORTAL_PAGES.values():
        raise ServiceError("NOT_FOUND", f"the portal does not show {category} records")
    person_id = viewer(ctx, token, category)
    with ctx.registry.connect() as conn:
        return medical_page(conn, person_id, category, **query)
