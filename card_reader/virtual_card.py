"""A virtual My Number Card: the JPKI and card-surface applications, answering APDUs per docs/rules.md §6.

PIN counters are written to the card file on every change, so retries survive restarts and a locked
card stays locked. ``Faults`` lets bench tests slow the card down, pull it out after some APDUs, or
answer one APDU with a wrong status word.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509 import load_pem_x509_certificate

from card_reader import apdu as a
from card_reader.card_file import CardState, KeySlot, load_card, save_card
from card_reader.errors import CardRemoved
from card_reader.surface import encode_surface

_DIGEST_INFO_PREFIXES: dict[bytes, hashes.HashAlgorithm] = {
    bytes.fromhex("3021300906052b0e03021a05000414"): hashes.SHA1(),
    a.SHA256_DIGEST_INFO_PREFIX: hashes.SHA256(),
    bytes.fromhex("3041300d060960864801650304020205000430"): hashes.SHA384(),
    bytes.fromhex("3051300d060960864801650304020305000440"): hashes.SHA512(),
}


@dataclass
class Faults:
    """Misbehaviour for bench tests; APDUs are counted from 1 since the last insertion."""

    latency: float = 0.0  # seconds added to every APDU
    remove_after: int | None = None  # the card vanishes instead of answering APDU remove_after + 1
    wrong_sw_at: int | None = None  # APDU number answered with ``wrong_sw`` alone
    wrong_sw: int = 0x6F00


@dataclass(frozen=True)
class _Binary:
    data: bytes
    pin: str | None = None  # name of the PIN that must be verified to read it


@dataclass(frozen=True)
class _Pin:
    name: str


@dataclass(frozen=True)
class _Key:
    name: str


_EF = _Binary | _Pin | _Key


def _sw(sw: int, data: bytes = b"") -> bytes:
    return data + sw.to_bytes(2, "big")


def _der(slot: KeySlot, which: str) -> bytes:
    pem = slot.cert_pem if which == "cert" else slot.ca_pem
    return load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)


def _private_key(slot: KeySlot) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(slot.key_pem.encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


class VirtualCard:
    atr = a.ATR

    def __init__(
        self, state: CardState, path: Path | None = None, faults: Faults | None = None
    ) -> None:
        self.state = state
        self.path = path
        self.faults = faults or Faults()
        self.apdu_count = 0
        self.removed = False
        self._keys = {"auth": _private_key(state.auth)}
        jpki: dict[int, _EF] = {
            a.TOKEN_EF: _Binary(state.token.encode("ascii").ljust(a.TOKEN_LENGTH, b" ")),
            a.AUTH_CERT_EF: _Binary(_der(state.auth, "cert")),
            a.AUTH_CA_EF: _Binary(_der(state.auth, "ca")),
            a.AUTH_PIN_EF: _Pin("auth"),
            a.AUTH_KEY_EF: _Key("auth"),
        }
        if state.sign and state.sign_pin:
            self._keys["sign"] = _private_key(state.sign)
            jpki |= {
                a.SIGN_CERT_EF: _Binary(_der(state.sign, "cert"), pin="sign"),
                a.SIGN_CA_EF: _Binary(_der(state.sign, "ca")),
                a.SIGN_PIN_EF: _Pin("sign"),
                a.SIGN_KEY_EF: _Key("sign"),
            }
        self._apps: dict[bytes, dict[int, _EF]] = {
            a.JPKI_AID: jpki,
            a.SURFACE_AID: {
                a.SURFACE_PIN_EF: _Pin("surface"),
                a.SURFACE_ATTRIBUTES_EF: _Binary(encode_surface(state.surface), pin="surface"),
            },
        }
        self._app: bytes | None = None
        self._ef: _EF | None = None
        self._verified: set[str] = set()

    @classmethod
    def load(cls, path: Path, faults: Faults | None = None) -> VirtualCard:
        return cls(load_card(path), Path(path), faults)

    def reset(self) -> None:
        """Power cycle: the applications are deselected and verified PINs forgotten."""
        self._app, self._ef, self._verified = None, None, set()

    def insert(self) -> None:
        self.removed = False
        self.apdu_count = 0
        self.reset()

    def transmit(self, command: bytes) -> bytes:
        """Answer one command APDU with response data ‖ SW1 SW2; raises ``CardRemoved`` when gone."""
        if self.removed:
            raise CardRemoved()
        faults = self.faults
        if faults.remove_after is not None and self.apdu_count >= faults.remove_after:
            self.removed = True
            raise CardRemoved()
        self.apdu_count += 1
        if faults.latency:
            time.sleep(faults.latency)
        if self.apdu_count == faults.wrong_sw_at:
            return _sw(faults.wrong_sw)
        return self._process(command)

    # -- command processing -------------------------------------------------------------------

    def _process(self, command: bytes) -> bytes:
        if len(command) < 4:
            return _sw(a.SW_WRONG_LENGTH)
        cla, ins, p1, p2 = command[:4]
        body = command[4:]
        data, le = b"", None
        if len(body) == 1:
            le = body[0] or 256
        elif body:
            data, rest = body[1 : 1 + body[0]], body[1 + body[0] :]
            if len(data) != body[0] or len(rest) > 1:
                return _sw(a.SW_WRONG_LENGTH)
            le = (rest[0] or 256) if rest else None
        if cla not in (0x00, 0x80):
            return _sw(a.SW_CLA_NOT_SUPPORTED)
        if ins == a.INS_SELECT:
            return self._select(p1, data)
        if ins == a.INS_READ_BINARY:
            return self._read_binary(p1, p2, le or 256)
        if ins == a.INS_VERIFY:
            return self._verify(data)
        if ins == a.INS_SIGN and (p1, p2) == (0x00, 0x80):
            return self._sign(data)
        return _sw(a.SW_INS_NOT_SUPPORTED)

    def _select(self, p1: int, data: bytes) -> bytes:
        if p1 == 0x04:
            if data not in self._apps:
                return _sw(a.SW_NOT_FOUND)
            self._app, self._ef, self._verified = data, None, set()
            return _sw(a.SW_OK)
        if p1 != 0x02 or len(data) != 2:
            return _sw(a.SW_WRONG_P1P2)
        ef = self._apps.get(self._app or b"", {}).get(int.from_bytes(data, "big"))
        if ef is None:
            return _sw(a.SW_NOT_FOUND)
        self._ef = ef
        return _sw(a.SW_OK)

    def _read_binary(self, p1: int, p2: int, le: int) -> bytes:
        ef = self._ef
        if not isinstance(ef, _Binary):
            return _sw(a.SW_NO_CURRENT_EF if ef is None else a.SW_INCOMPATIBLE_FILE)
        if ef.pin and ef.pin not in self._verified:
            return _sw(a.SW_SECURITY_NOT_SATISFIED)
        offset = (p1 << 8) | p2
        if p1 & 0x80 or offset > len(ef.data):
            return _sw(a.SW_WRONG_OFFSET)
        chunk = ef.data[offset : offset + le]
        return _sw(a.SW_OK if len(chunk) == le else a.SW_END_OF_FILE, chunk)

    def _verify(self, pin: bytes) -> bytes:
        ef = self._ef
        if not isinstance(ef, _Pin):
            return _sw(a.SW_NO_CURRENT_EF if ef is None else a.SW_INCOMPATIBLE_FILE)
        state = getattr(self.state, f"{ef.name}_pin")
        if not pin:
            return _sw(a.SW_TRIES_LEFT | state.tries_left)
        if state.tries_left == 0:
            return _sw(a.SW_AUTH_BLOCKED)
        if state.matches(pin):
            self._verified.add(ef.name)
            if state.tries_left != state.max_tries:
                state.tries_left = state.max_tries
                self._save()
            return _sw(a.SW_OK)
        state.tries_left -= 1
        self._verified.discard(ef.name)
        self._save()
        return _sw(a.SW_TRIES_LEFT | state.tries_left)

    def _sign(self, digest_info: bytes) -> bytes:
        ef = self._ef
        if not isinstance(ef, _Key):
            return _sw(a.SW_NO_CURRENT_EF if ef is None else a.SW_INCOMPATIBLE_FILE)
        if ef.name not in self._verified:
            return _sw(a.SW_SECURITY_NOT_SATISFIED)
        for prefix, algorithm in _DIGEST_INFO_PREFIXES.items():
            if (
                digest_info.startswith(prefix)
                and len(digest_info) == len(prefix) + algorithm.digest_size
            ):
                key = self._keys[ef.name]
                digest = digest_info[len(prefix) :]
                return _sw(a.SW_OK, key.sign(digest, padding.PKCS1v15(), Prehashed(algorithm)))
        return _sw(a.SW_WRONG_DATA)  # only DigestInfos of SHA-1/256/384/512 are signed

    def _save(self) -> None:
        if self.path is not None:
            save_card(self.path, self.state)
