"""Proof of a card: a single-use challenge, the card's certificate and its signature.

PIN mode: the card's PKCS#1 v1.5 SHA-256 signature over the challenge. Face mode: a registered
face-recognition reader of the institution signs the challenge followed by the certificate and the
consents the patient chose on its screen, so the consents sent must be the ones the reader signed."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Connection

from app.service import audit
from app.service.accounts import reader_keys_of
from app.service.audit import Action, Actor, Outcome
from app.service.context import ServiceContext
from app.service.errors import ServiceError
from app.service.sessions import ChallengeInvalid, consume_challenge
from card_reader.verify import VerificationResult, reader_public_key
from payer_registry.card_links import person_for_card
from payer_registry.repository import PersonRow

METHODS = ("pin", "face")


@dataclass(frozen=True, slots=True)
class CardProof:
    """What the reader sends for a challenge."""

    certificate: bytes
    signature: bytes
    method: str = "pin"  # "pin": the card signed; "face": a face-recognition reader attests


def prove_card(
    ctx: ServiceContext,
    session_id: str,
    institution_code: str | None,
    purpose: str,
    proof: CardProof,
    staff_id: str | None = None,
    consents: Collection[str] = (),
) -> PersonRow:
    """Use up the challenge (even when the proof then fails), verify the card's answer and return the
    person the card is linked to. A refusal, an unknown or used challenge included, is audited
    before it is raised (a card verification at an institution, a sign-in for the portal).
    ``consents``: the categories sent as given, which a face-mode attestation must cover."""
    attempt = _Attempt(institution_code, staff_id, purpose)
    challenge = _take_challenge(ctx, session_id, attempt)
    result = _verify(ctx, institution_code, proof, challenge, consents)
    person = _linked_person(ctx, result) if result.ok else None
    if person is None:
        with ctx.registry.begin() as conn:
            attempt.audit_refusal(conn, result.code if not result.ok else Outcome.CARD_NOT_LINKED)
        raise _refusal(result)
    return person


@dataclass(frozen=True, slots=True)
class _Attempt:
    """Who presents a card, and for what: an institution's visit, or the patient's own portal."""

    institution_code: str | None
    staff_id: str | None
    purpose: str

    def audit_refusal(self, conn: Connection, outcome: audit.AnyOutcome) -> None:
        """No person: the card did not prove whose it is."""
        audit.append(
            conn,
            actor=Actor.INSTITUTION if self.institution_code else Actor.PATIENT,
            action=Action.PORTAL_SIGN_IN if self.purpose == "portal" else Action.CARD_VERIFICATION,
            outcome=outcome,
            institution_code=self.institution_code,
            staff_id=self.staff_id,
        )


def _take_challenge(ctx: ServiceContext, session_id: str, attempt: _Attempt) -> bytes:
    """The challenge, used up; an unknown, expired, used or foreign one is refused, audited."""
    with ctx.registry.begin() as conn:
        try:
            return consume_challenge(conn, session_id, attempt.institution_code, attempt.purpose)
        except ChallengeInvalid as error:
            attempt.audit_refusal(conn, Outcome.CHALLENGE_INVALID)
            refusal = ServiceError("CHALLENGE_INVALID", str(error))
    raise refusal


def _verify(
    ctx: ServiceContext,
    institution_code: str | None,
    proof: CardProof,
    challenge: bytes,
    consents: Collection[str],
) -> VerificationResult:
    if proof.method == "pin":
        return ctx.trust_store.verify(proof.certificate, proof.signature, challenge)
    with ctx.registry.connect() as conn:
        pems = reader_keys_of(conn, institution_code) if institution_code else []
    keys = [key for key in map(reader_public_key, pems) if key is not None]
    return ctx.trust_store.verify_attested(
        proof.certificate, proof.signature, challenge, keys, consents
    )


def _linked_person(ctx: ServiceContext, result: VerificationResult) -> PersonRow | None:
    if result.issuer is None or result.serial is None:
        return None
    with ctx.registry.connect() as conn:
        return person_for_card(conn, result.issuer, result.serial)


def _refusal(result: VerificationResult) -> ServiceError:
    if not result.ok:
        return ServiceError(
            str(result.code), result.message, {"revocation": result.revocation_status}
        )
    return ServiceError(
        "CARD_NOT_LINKED",
        "this card's certificate is not linked to an insured person "
        "(a renewed card must be linked again)",
    )
