"""Issuing a virtual card to an insured person of the registry and linking its certificate to them."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from sqlalchemy import Connection

from card_reader.authority import CURRENT_GENERATION, Authority
from card_reader.card_file import save_card
from card_reader.issuance import auth_certificate, issue_card
from card_reader.surface import SurfaceAttributes
from payer_registry.card_links import CardLinkError, link_card
from payer_registry.repository import find_person


def issuer_serial(certificate: x509.Certificate) -> tuple[str, int]:
    """What the registry links: the certificate's issuer (RFC 4514) and serial."""
    return certificate.issuer.rfc4514_string(), certificate.serial_number


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
    certificate = auth_certificate(state)
    link_card(conn, number, *issuer_serial(certificate))
    save_card(out, state)
    return certificate
