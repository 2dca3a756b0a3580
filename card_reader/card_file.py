"""The state of a virtual card, kept in its card file (JSON, mode 0600, replaced atomically).

The file holds the private keys, the certificates, the PINs (salted SHA-256, never in clear) with their
retry counters, and the card-surface attributes. It never holds an Individual Number.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from card_reader.errors import CardFileError
from card_reader.files import write_private
from card_reader.surface import SurfaceAttributes

FORMAT = "eligsim-virtual-card/1"


@dataclass
class PinState:
    salt: str
    digest: str
    tries_left: int
    max_tries: int

    @classmethod
    def new(cls, pin: str, max_tries: int) -> PinState:
        salt = secrets.token_hex(8)
        return cls(salt, _digest(salt, pin.encode("ascii")), max_tries, max_tries)

    def matches(self, pin: bytes) -> bool:
        return hmac.compare_digest(self.digest, _digest(self.salt, pin))


def _digest(salt: str, pin: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + pin).hexdigest()


@dataclass
class KeySlot:
    """A private key with its certificate and its issuing CA certificate (PEM)."""

    key_pem: str
    cert_pem: str
    ca_pem: str


@dataclass
class CardState:
    token: str
    auth: KeySlot
    auth_pin: PinState
    surface: SurfaceAttributes
    surface_pin: PinState
    sign: KeySlot | None = None
    sign_pin: PinState | None = None


def save_card(path: Path, state: CardState) -> None:
    doc = {"format": FORMAT, **asdict(state)}
    doc["surface"]["birth_date"] = state.surface.birth_date.isoformat()
    write_private(Path(path), json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8"))


def load_card(path: Path) -> CardState:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CardFileError(path, f"cannot read: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CardFileError(path, f"not a virtual card file (expected format {FORMAT})")
    try:
        surface = dict(doc["surface"], birth_date=date.fromisoformat(doc["surface"]["birth_date"]))
        return CardState(
            token=doc["token"],
            auth=KeySlot(**doc["auth"]),
            auth_pin=PinState(**doc["auth_pin"]),
            surface=SurfaceAttributes(**surface),
            surface_pin=PinState(**doc["surface_pin"]),
            sign=KeySlot(**doc["sign"]) if doc.get("sign") else None,
            sign_pin=PinState(**doc["sign_pin"]) if doc.get("sign_pin") else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CardFileError(path, f"malformed: {exc!r}") from None
