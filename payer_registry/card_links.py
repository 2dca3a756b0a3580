"""The link from a card's user-authentication certificate (issuer + serial) to a person.

The real system identifies a person by this certificate, never by the Individual Number; a renewed
card has a new serial and must be linked again (docs/rules.md §1, §6)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, select, update

from payer_registry.clock import now_utc
from payer_registry.models import CardLink, table_of
from payer_registry.repository import PersonRow, find_person, get_person

card_links = table_of(CardLink)
END_REASONS = ("revoked", "renewed")


class CardLinkError(LookupError):
    """No such person, or no such live link."""


def serial_text(serial: int) -> str:
    """Serials are stored as upper-case hexadecimal: up to 20 bytes do not fit a database integer."""
    return format(serial, "X")


def link_card(
    conn: Connection,
    insured_number: str,
    cert_issuer: str,
    cert_serial: int,
    at: dt.datetime | None = None,
) -> None:
    """Link a certificate to the person holding ``insured_number``; linking it again is a no-op."""
    person = find_person(conn, insured_number)
    if person is None:
        raise CardLinkError(f"no insured person with number {insured_number}")
    if _live_link(conn, cert_issuer, cert_serial) is not None:
        return
    conn.execute(
        card_links.insert().values(
            person_id=person.id,
            cert_issuer=cert_issuer,
            cert_serial=serial_text(cert_serial),
            linked_at=at or now_utc(),
        )
    )


def unlink_card(
    conn: Connection, cert_issuer: str, cert_serial: int, reason: str, at: dt.datetime | None = None
) -> None:
    """End a live link (the card was revoked, or renewed with a new certificate)."""
    if reason not in END_REASONS:
        raise ValueError(f"reason must be one of {END_REASONS}")
    link_id = _live_link(conn, cert_issuer, cert_serial)
    if link_id is None:
        raise CardLinkError("this certificate is not linked to anyone")
    conn.execute(
        update(card_links)
        .where(card_links.c.id == link_id)
        .values(ended_at=at or now_utc(), end_reason=reason)
    )


def person_for_card(conn: Connection, cert_issuer: str, cert_serial: int) -> PersonRow | None:
    """The person a live link points to, or None for an unlinked or ended certificate."""
    row = conn.execute(
        select(card_links.c.person_id).where(*_certificate(cert_issuer, cert_serial))
    ).first()
    return get_person(conn, row.person_id) if row else None


def _live_link(conn: Connection, cert_issuer: str, cert_serial: int) -> int | None:
    return conn.execute(
        select(card_links.c.id).where(*_certificate(cert_issuer, cert_serial))
    ).scalar_one_or_none()


def _certificate(cert_issuer: str, cert_serial: int) -> tuple:
    return (
        card_links.c.cert_serial == serial_text(cert_serial),
        card_links.c.cert_issuer == cert_issuer,
        card_links.c.ended_at.is_(None),
    )
