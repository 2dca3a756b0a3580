"""JPKI client (公的個人認証): what a front-desk reader asks of a My Number Card, over any transport.

It never reads the Individual Number (EF 0001 of the card-surface AP).
"""

from __future__ import annotations

import hashlib
import re

from card_reader import apdu as a
from card_reader.errors import (
    CardError,
    InvalidPin,
    NotMyNumberCard,
    PinLastTry,
    PinLocked,
    PinNotVerified,
    UnexpectedStatus,
    WrongPin,
)
from card_reader.surface import SurfaceAttributes, decode_surface, tlv_size
from card_reader.transport import Transport

_FOUR_DIGITS = re.compile(rb"[0-9]{4}")
_LOCKED = (a.SW_TRIES_LEFT, a.SW_AUTH_BLOCKED, a.SW_REFERENCE_DATA_UNUSABLE)


class JpkiClient:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._app: bytes | None = None

    def _call(self, command: bytes, step: str, accept: tuple[int, ...] = (a.SW_OK,)) -> bytes:
        data, sw = self.transport.transmit(command)
        if sw == a.SW_SECURITY_NOT_SATISFIED:
            raise PinNotVerified()
        if sw not in accept:
            raise UnexpectedStatus(sw, step)
        return data

    def _sw(self, command: bytes) -> int:
        return self.transport.transmit(command)[1]

    def select_application(self, aid: bytes = a.JPKI_AID) -> None:
        """Select an application (the JPKI one by default); 6A82 means not a My Number Card."""
        sw = self._sw(a.select_aid(aid))
        if sw == a.SW_NOT_FOUND:
            self._app = None
            raise NotMyNumberCard(f"application {aid.hex().upper()} not found (6A82)")
        if sw != a.SW_OK:
            raise UnexpectedStatus(sw, "select application")
        self._app = aid

    def _select_ef(self, aid: bytes, fid: int) -> None:
        if self._app != aid:
            self.select_application(aid)
        self._call(a.select_ef(fid), f"select EF {fid:04X}")

    def _read_range(self, fid: int, start: int, end: int) -> bytes:
        """Read bytes [start, end) of the selected EF with short reads (at most 255 bytes a call)."""
        out = bytearray()
        while start + len(out) < end:
            offset = start + len(out)
            out += self._call(
                a.read_binary(offset, min(a.MAX_LE, end - offset)), f"read EF {fid:04X}"
            )
        return bytes(out)

    def read_binary(self, aid: bytes, fid: int, length: int) -> bytes:
        self._select_ef(aid, fid)
        return self._read_range(fid, 0, length)

    def read_tlv(self, aid: bytes, fid: int, head_size: int = 4) -> bytes:
        """Read a BER/DER object (a certificate) whose length comes from its own header."""
        head = self.read_binary(aid, fid, head_size)
        if head[0] == 0x00 or set(head) == {0xFF}:
            raise CardError(f"EF {fid:04X} is empty")
        total = tlv_size(head)
        return head[:total] + self._read_range(fid, len(head), total)

    def read_token(self) -> str:
        token = self.read_binary(a.JPKI_AID, a.TOKEN_EF, a.TOKEN_LENGTH)
        if not token.startswith(a.TOKEN_PREFIX):
            raise NotMyNumberCard(f"unexpected JPKI token {token[:16]!r}")
        return token.rstrip(b" \x00").decode("ascii")

    def read_auth_certificate(self) -> bytes:
        """The user-authentication certificate (DER); readable without a PIN."""
        return self.read_tlv(a.JPKI_AID, a.AUTH_CERT_EF)

    def read_auth_ca_certificate(self) -> bytes:
        return self.read_tlv(a.JPKI_AID, a.AUTH_CA_EF)

    def _tries_left(self, aid: bytes, pin_ef: int) -> int:
        self._select_ef(aid, pin_ef)
        sw = self._sw(a.verify())
        if sw & 0xFFF0 == a.SW_TRIES_LEFT:
            return sw & 0x0F
        if sw in _LOCKED:
            return 0
        raise UnexpectedStatus(sw, "PIN tries left")

    def auth_pin_tries_left(self) -> int:
        """Tries left on the authentication PIN; asking uses no try."""
        return self._tries_left(a.JPKI_AID, a.AUTH_PIN_EF)

    def _verify_pin(self, aid: bytes, pin_ef: int, pin: str, force: bool) -> None:
        if not _FOUR_DIGITS.fullmatch(pin.encode()):
            raise InvalidPin("the PIN is 4 digits")
        tries = self._tries_left(aid, pin_ef)
        if tries == 0:
            raise PinLocked()
        if tries == 1 and not force:
            raise PinLastTry()
        sw = self._sw(a.verify(pin.encode("ascii")))
        if sw == a.SW_OK:
            return
        if sw in _LOCKED:
            raise PinLocked()
        if sw & 0xFFF0 == a.SW_TRIES_LEFT:
            raise WrongPin(sw & 0x0F)
        raise UnexpectedStatus(sw, "verify PIN")

    def verify_auth_pin(self, pin: str, force: bool = False) -> None:
        """Verify the 4-digit authentication PIN; refuse to send it with one try left unless forced."""
        self._verify_pin(a.JPKI_AID, a.AUTH_PIN_EF, pin, force)

    def sign_challenge(self, challenge: bytes) -> bytes:
        """Sign SHA-256(challenge) with the authentication key (PKCS#1 v1.5); needs the verified PIN."""
        self._select_ef(a.JPKI_AID, a.AUTH_KEY_EF)
        digest_info = a.sha256_digest_info(hashlib.sha256(challenge).digest())
        return self._call(a.sign(digest_info), "sign")

    def read_surface_attributes(self, pin: str, force: bool = False) -> SurfaceAttributes:
        """Name, address, birth date and sex from the card-surface helper AP (needs its PIN)."""
        self._verify_pin(a.SURFACE_AID, a.SURFACE_PIN_EF, pin, force)
        data = self.read_tlv(a.SURFACE_AID, a.SURFACE_ATTRIBUTES_EF, head_size=5)
        try:
            return decode_surface(data)
        except (ValueError, IndexError) as exc:
            raise CardError(f"unreadable card-surface attributes: {exc}") from None
