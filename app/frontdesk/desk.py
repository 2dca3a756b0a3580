"""The reader station's work, without Flask: which institution it acts as, and the card steps it runs
on this machine (PIN, signature, or the simulated face reader's attestation)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.frontdesk.readers import catalogue, connected
from app.service.accounts import authenticate, institution
from app.service.card_proof import CardProof
from app.service.consent import Grant
from app.service.context import ServiceContext
from app.service.errors import ServiceError
from card_reader.face_reader import FaceReader
from card_reader.jpki import JpkiClient

SETUP_HINT = "run scripts/run or `eligsim demo setup`"


@dataclass(frozen=True, slots=True)
class CardRequest:
    """What the page sends for a card step: the reader, the PIN (PIN mode) or face mode, and the
    consents chosen on the reader's screen (which the face reader's attestation covers)."""

    reader: str
    pin: str | None = None
    force: bool = False
    method: str = "pin"
    consents: tuple[str, ...] = ()

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> CardRequest:
        chosen = Grant.from_choices(body.get("consents", {})).categories
        return cls(
            body["reader"],
            body.get("pin"),
            body.get("force", False),
            body.get("method", "pin"),
            chosen,
        )


def key_file(var_dir: Path) -> Path:
    return var_dir / "demo" / "api-key"


def station_institution(ctx: ServiceContext) -> dict[str, Any]:
    """The demo institution (code, name, offered) whose key ``eligsim demo setup`` left here."""
    path = key_file(ctx.settings.var_dir)
    try:
        key = path.read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        raise ServiceError(
            "STATION_NOT_READY", f"the reader station has no institution key: {SETUP_HINT}"
        ) from None
    with ctx.registry.connect() as conn:
        principal = authenticate(conn, key)
        found = (
            institution(conn, principal.institution_code)
            if principal and principal.institution_code
            else None
        )
    if found is None:
        raise ServiceError("STATION_NOT_READY", f"the key in {path} is not valid: {SETUP_HINT}")
    return {"code": found.code, "name": found.name, "offered": list(found.offered)}


def card_answer(ctx: ServiceContext, request: CardRequest, challenge: bytes) -> CardProof:
    """The certificate and the signature over ``challenge``: the card's after the PIN, or in face
    mode the face reader's attestation, which covers the consents chosen on its screen."""
    var_dir = ctx.settings.var_dir
    with connected(catalogue(var_dir).find(request.reader)) as transport:
        card = JpkiClient(transport)
        certificate = card.read_auth_certificate()
        if request.method == "face":
            reader = FaceReader.load_or_create(var_dir)
            attestation = reader.attest(challenge, certificate, request.consents)
            return CardProof(certificate, attestation, "face")
        card.verify_auth_pin(request.pin or "", request.force)
        return CardProof(certificate, card.sign_challenge(challenge))


def check_pin(ctx: ServiceContext, request: CardRequest) -> int:
    """Verify the PIN on the card, as the reader does before its consent screen: tries left."""
    with connected(catalogue(ctx.settings.var_dir).find(request.reader)) as transport:
        card = JpkiClient(transport)
        card.verify_auth_pin(request.pin or "", request.force)
        return card.auth_pin_tries_left()
