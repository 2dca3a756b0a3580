"""Issuing, renewing and revoking virtual cards with the simulated authority (no registry here)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from card_reader.authority import CURRENT_GENERATION, Authority, new_card_key
from card_reader.card_file import CardState, KeySlot, PinState
from card_reader.errors import InvalidPin
from card_reader.surface import SurfaceAttributes

TOKEN = "JPKIAPICCTOKEN2"
AUTH_PIN_TRIES, SIGN_PIN_TRIES, SURFACE_PIN_TRIES = 3, 5, 3


def check_pins(pin: str, signature_pin: str | None) -> None:
    if not re.fullmatch(r"[0-9]{4}", pin):
        raise InvalidPin("the authentication PIN is 4 digits")
    if signature_pin is not None and not re.fullmatch(r"[A-Z0-9]{6,16}", signature_pin):
        raise InvalidPin("the signature PIN is 6 to 16 characters A-Z 0-9")


def _slot(key: rsa.RSAPrivateKey, cert: x509.Certificate, ca: x509.Certificate) -> KeySlot:
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return KeySlot(key_pem, cert.public_bytes(pem).decode(), ca.public_bytes(pem).decode())


def _new_slots(
    authority: Authority,
    holder: SurfaceAttributes,
    with_signature: bool,
    generation: str,
    now: datetime | None,
) -> tuple[KeySlot, KeySlot | None]:
    key = new_card_key()
    cert = authority.issue_auth_certificate(key.public_key(), holder.birth_date, now, generation)
    auth = _slot(key, cert, authority.issuer_of(cert).certificate)
    if not with_signature:
        return auth, None
    key = new_card_key()
    cert = authority.issue_signature_certificate(key.public_key(), holder, now, generation)
    return auth, _slot(key, cert, authority.issuer_of(cert).certificate)


def issue_card(
    authority: Authority,
    holder: SurfaceAttributes,
    pin: str,
    signature_pin: str | None = None,
    surface_pin: str | None = None,
    generation: str = CURRENT_GENERATION,
    now: datetime | None = None,
) -> CardState:
    """A new card; without a signature PIN it holds no signature certificate (as for minors)."""
    check_pins(pin, signature_pin)
    check_pins(surface_pin or pin, None)
    auth, sign = _new_slots(authority, holder, signature_pin is not None, generation, now)
    return CardState(
        token=TOKEN,
        auth=auth,
        auth_pin=PinState.new(pin, AUTH_PIN_TRIES),
        surface=holder,
        surface_pin=PinState.new(surface_pin or pin, SURFACE_PIN_TRIES),
        sign=sign,
        sign_pin=PinState.new(signature_pin, SIGN_PIN_TRIES) if signature_pin else None,
    )


def auth_certificate(state: CardState) -> x509.Certificate:
    return x509.load_pem_x509_certificate(state.auth.cert_pem.encode())


def renew_card(
    authority: Authority,
    state: CardState,
    generation: str = CURRENT_GENERATION,
    now: datetime | None = None,
) -> CardState:
    """New keys and certificates (new serials) on the same card, PINs kept. The caller revokes the
    old certificates (``revoke_card(..., superseded)``) once the new state is safely stored."""
    auth, sign = _new_slots(authority, state.surface, state.sign is not None, generation, now)
    return replace(state, auth=auth, sign=sign)


def revoke_card(
    authority: Authority,
    state: CardState,
    reason: x509.ReasonFlags = x509.ReasonFlags.cessation_of_operation,
) -> None:
    """Revoke the card's authentication and signature certificates."""
    for slot in (state.auth, state.sign):
        if slot is not None:
            authority.revoke(x509.load_pem_x509_certificate(slot.cert_pem.encode()), reason)
