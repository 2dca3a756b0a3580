"""Proof of a card: a single-use challenge, the card's certificate and its signature (SPEC §5)."""

from __future__ import annotations

import base64
import binascii

from flask import Flask, current_app
from marshmallow import ValidationError, fields

from app.errors import ApiError
from app.extensions import registry
from card_reader.authority import Authority
from card_reader.verify import TrustStore, VerificationResult, reader_public_key
from payer_registry.access import audit
from payer_registry.access.keys import reader_keys_of
from payer_registry.access.sessions import ChallengeInvalid, consume_challenge
from payer_registry.card_links import person_for_card
from payer_registry.repository import PersonRow
from payer_registry.settings import Settings


class Base64(fields.String):
    """Binary data carried as standard base64 text."""

    def __init__(self, **kwargs) -> None:
        metadata = {
            "format": "byte",
            "pattern": r"^[A-Za-z0-9+/]*={0,2}$",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> bytes:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("not valid base64") from None

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else base64.b64encode(value).decode("ascii")


def register_trust_store(app: Flask, settings: Settings) -> None:
    """The simulated authority's roots (with CRL revocation) and any real roots the user added."""
    app.extensions["trust_store"] = TrustStore.for_authority(Authority(settings.jpki_dir))


def prove_card(
    session_id: str,
    institution_code: str | None,
    purpose: str,
    certificate: bytes,
    signature: bytes,
    staff_id: str | None = None,
    method: str = "pin",
) -> PersonRow:
    """Use up the challenge (even when the proof then fails), verify the card's answer and return the
    person the card is linked to. In ``"face"`` mode the signature is an attestation by one of the
    institution's registered readers (SPEC §5). A refusal is audited before it is raised."""
    with registry().begin() as conn:
        try:
            challenge = consume_challenge(conn, session_id, institution_code, purpose)
        except ChallengeInvalid as error:
            raise ApiError("CHALLENGE_INVALID", str(error)) from None
    try:
        result = _verify(method, institution_code, certificate, signature, challenge)
        return _identify(result)
    except ApiError as refusal:
        with registry().begin() as conn:
            audit.append(
                conn,
                actor="institution" if institution_code else "patient",
                action="card_verification",
                outcome=refusal.code,
                institution_code=institution_code,
                staff_id=staff_id,
            )
        raise


def _verify(
    method: str,
    institution_code: str | None,
    certificate: bytes,
    signature: bytes,
    challenge: bytes,
) -> VerificationResult:
    store: TrustStore = current_app.extensions["trust_store"]
    if method == "pin":
        return store.verify(certificate, signature, challenge)
    with registry().connect() as conn:
        pems = reader_keys_of(conn, institution_code) if institution_code else []
    keys = [key for key in map(reader_public_key, pems) if key is not None]
    return store.verify_attested(certificate, signature, challenge, keys)


def _identify(result: VerificationResult) -> PersonRow:
    if not result.ok:
        raise ApiError(str(result.code), result.message, {"revocation": result.revocation_status})
    with registry().connect() as conn:
        person = person_for_card(conn, result.issuer, result.serial)
    if person is None:
        raise ApiError(
            "CARD_NOT_LINKED",
            "this card's certificate is not linked to an insured person (a renewed card must be linked again)",
        )
    return person
