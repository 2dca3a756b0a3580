"""Cards and the people they belong to: issuing a virtual card to an insured person and linking its
certificate, renewing it (the new certificate linked, the old one unlinked and revoked), revoking it.

Linking is composition: ``card_reader`` makes and revokes cards, ``payer_registry`` keeps the links.
Only here is a card linked (payers' records never carry links), and each change is audited: a link
decides whose data a card opens."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from sqlalchemy import Connection

from app.service import audit
from app.service.audit import Action, Outcome
from card_reader.authority import CURRENT_GENERATION, Authority
from card_reader.card_file import CardState, save_card
from card_reader.issuance import auth_certificate, issue_card, renew_card, revoke_card
from card_reader.surface import SurfaceAttributes
from payer_registry.card_links import CardLinkError, link_card, person_for_card, unlink_card
from payer_registry.repository import PersonRow, find_person, person_qualifications


def issuer_serial(certificate: x509.Certificate) -> tuple[str, int]:
    """What the registry links: the certificate's issuer (RFC 4514) and serial."""
    return certificate.issuer.rfc4514_string(), certificate.serial_number


def certificate_of(state: CardState) -> tuple[str, int]:
    return issuer_serial(auth_certificate(state))


def issue_linked_card(
    conn: Connection,
    authority: Authority,
    number: str,
    out: Path,
    pin: str,
    signature_pin: str | None = None,
    generation: str = CURRENT_GENERATION,
) -> x509.Certificate:
    """Issue a card to the holder of individualized insured number ``number`` (the Individual
    Number is never used), link its certificate, save it to ``out``; its certificate."""
    person = find_person(conn, number)
    if person is None:
        raise CardLinkError(f"no insured person with number {number}")
    holder = SurfaceAttributes(person.name, person.address, person.birth_date, person.sex)
    state = issue_card(authority, holder, pin, signature_pin, generation=generation)
    link_issued_card(conn, number, state)
    save_card(out, state)
    return auth_certificate(state)


def link_issued_card(conn: Connection, number: str, state: CardState) -> None:
    """Link a newly issued card's certificate to the holder of ``number``, audited."""
    certificate = certificate_of(state)
    link_card(conn, number, *certificate)
    _audit_link(conn, Outcome.LINKED, person_for_card(conn, *certificate))


def renew_linked_card(
    conn: Connection,
    authority: Authority,
    old: CardState,
    number: str | None = None,
    generation: str = CURRENT_GENERATION,
) -> CardState:
    """Renew the card: the new certificate linked (to ``number``, by default the holder's current
    qualification), the old one unlinked and revoked as superseded."""
    if number is None:
        number = _current_number(conn, old)
    renewed = renew_card(authority, old, generation)
    unlink_card(conn, *certificate_of(old), reason="renewed")
    certificate = certificate_of(renewed)
    link_card(conn, number, *certificate)
    _audit_link(conn, Outcome.RENEWED, person_for_card(conn, *certificate))
    revoke_card(authority, old, x509.ReasonFlags.superseded)
    return renewed


def revoke_linked_card(conn: Connection, authority: Authority, state: CardState) -> bool:
    """Revoke the card and end its link; whether it was linked."""
    issuer, serial = certificate_of(state)
    holder = person_for_card(conn, issuer, serial)
    if holder is not None:
        unlink_card(conn, issuer, serial, reason="revoked")
    _audit_link(conn, Outcome.REVOKED, holder)
    revoke_card(authority, state)
    return holder is not None


def _audit_link(conn: Connection, outcome: Outcome, holder: PersonRow | None) -> None:
    """A card's link made, moved to a renewed card or ended, by the operator running the command."""
    audit.append_by_operator(
        conn, Action.CARD_LINK, outcome, person_id=holder.id if holder else None
    )


def _current_number(conn: Connection, state: CardState) -> str:
    person = person_for_card(conn, *certificate_of(state))
    if person is None:
        raise CardLinkError("the card's certificate is not linked to anyone")
    held = person_qualifications(conn, [person.id])
    return next((q for q in held if q.lost_on is None), held[0]).insured_number
