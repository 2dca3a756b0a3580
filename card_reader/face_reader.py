"""A simulated face-recognition card reader (顔認証付きカードリーダー), docs/rules.md §6 face mode.

The reader matches the patient's face with the card's photo, so no PIN is entered and the card's
private key is never used. It reads the card's authentication certificate (no PIN needed) and attests
with its own key: a PKCS#1 v1.5 SHA-256 signature over the server's challenge ‖ the certificate DER ‖
the consent categories the patient chose on the reader's screen (``attested_message``), so whoever
carries the answer to the server cannot add a consent the patient never gave.
The institution registers the reader's public key (``eligsim institution add-reader``).

The reader key lives in ``<var>/face-reader/reader-key.pem`` (mode 0600), created on first use.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from card_reader.files import write_private
from card_reader.verify import attested_message

KEY_FILE = Path("face-reader") / "reader-key.pem"


class FaceReader:
    """A reader's attestation key."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self._key = key

    @classmethod
    def load_or_create(cls, var_dir: Path) -> FaceReader:
        """The reader key under ``var_dir``, generated and stored (0600) the first time."""
        path = Path(var_dir) / KEY_FILE
        if not path.exists():
            new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = new_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            write_private(path, pem)
        key = serialization.load_pem_private_key(path.read_bytes(), None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path} does not hold an RSA private key")
        return cls(key)

    def public_key_pem(self) -> str:
        """The public key to register for the institution (SubjectPublicKeyInfo, PEM)."""
        return (
            self._key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )

    def attest(self, challenge: bytes, certificate_der: bytes, consents: Iterable[str]) -> bytes:
        """The face-mode signature: the reader key over challenge ‖ certificate DER ‖ consents."""
        message = attested_message(challenge, certificate_der, consents)
        return self._key.sign(message, padding.PKCS1v15(), hashes.SHA256())
