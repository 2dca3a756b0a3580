from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography import x509

from card_reader import apdu as a
from card_reader.errors import (
    CardRemoved,
    InvalidPin,
    NotMyNumberCard,
    PinLastTry,
    PinLocked,
    PinNotVerified,
    UnexpectedStatus,
    WrongPin,
)
from card_reader.jpki import JpkiClient
from card_reader.transport import InProcessTransport
from card_reader.verify import TrustStore
from card_reader.virtual_card import Faults, VirtualCard

from .conftest import HOLDER, PIN, SIGNATURE_PIN


def test_reads_token_and_certificates(client: JpkiClient, card: VirtualCard) -> None:
    assert client.read_token() == "JPKIAPICCTOKEN2"
    cert = x509.load_der_x509_certificate(client.read_auth_certificate())
    ca = x509.load_der_x509_certificate(client.read_auth_ca_certificate())
    assert cert.issuer == ca.subject
    assert "JPKI for user authentication" in cert.issuer.rfc4514_string()
    assert HOLDER.name not in cert.subject.rfc4514_string()


def test_certificate_is_read_with_short_reads(card: VirtualCard) -> None:
    sent: list[bytes] = []
    transport = InProcessTransport(card)
    original = transport.transmit

    def spy(command: bytes) -> tuple[bytes, int]:
        sent.append(command)
        return original(command)

    transport.transmit = spy  # type: ignore[method-assign]
    der = JpkiClient(transport).read_auth_certificate()
    reads = [c for c in sent if c[1] == a.INS_READ_BINARY]
    assert len(reads) == 1 + -(-(len(der) - 4) // 255)
    assert all(c[4] <= 255 and c[4] != 0 for c in reads)


def test_unknown_application_is_not_a_my_number_card(client: JpkiClient) -> None:
    with pytest.raises(NotMyNumberCard):
        client.select_application(bytes.fromhex("A000000003000000"))


def test_raw_status_words(card: VirtualCard) -> None:
    card.insert()
    assert card.transmit(a.select_aid(a.JPKI_AID))[-2:] == b"\x90\x00"
    assert card.transmit(a.select_ef(0x1234)) == b"\x6a\x82"
    assert card.transmit(a.select_ef(a.AUTH_KEY_EF)) == b"\x90\x00"
    digest_info = a.sha256_digest_info(bytes(32))
    assert card.transmit(a.sign(digest_info)) == b"\x69\x82"
    assert card.transmit(a.select_ef(a.AUTH_PIN_EF)) == b"\x90\x00"
    assert card.transmit(a.verify()) == b"\x63\xc3"
    assert card.transmit(bytes([0x00, 0xCA, 0, 0, 0])) == b"\x6d\x00"


def test_pin_flow_wrong_then_right_resets_counter(client: JpkiClient) -> None:
    assert client.auth_pin_tries_left() == 3
    with pytest.raises(WrongPin) as wrong:
        client.verify_auth_pin("9999")
    assert wrong.value.tries_left == 2
    assert client.auth_pin_tries_left() == 2
    client.verify_auth_pin(PIN)
    assert client.auth_pin_tries_left() == 3


def test_sign_needs_verified_pin(client: JpkiClient) -> None:
    with pytest.raises(PinNotVerified):
        client.sign_challenge(b"challenge")


def test_refuses_at_one_try_and_locks_when_forced(client: JpkiClient) -> None:
    for left in (2, 1):
        with pytest.raises(WrongPin) as wrong:
            client.verify_auth_pin("0000")
        assert wrong.value.tries_left == left
    with pytest.raises(PinLastTry):
        client.verify_auth_pin(PIN)
    assert client.auth_pin_tries_left() == 1  # nothing was sent
    with pytest.raises(PinLocked):
        client.verify_auth_pin("0000", force=True)
    with pytest.raises(PinLocked):
        client.verify_auth_pin(PIN, force=True)


def test_invalid_pin_format_is_never_sent(client: JpkiClient) -> None:
    with pytest.raises(InvalidPin):
        client.verify_auth_pin("12a4")
    assert client.auth_pin_tries_left() == 3


def test_retries_survive_reload(card_path: Path, client: JpkiClient) -> None:
    with pytest.raises(WrongPin):
        client.verify_auth_pin("0000")
    reloaded = JpkiClient(InProcessTransport(VirtualCard.load(card_path)))
    assert reloaded.auth_pin_tries_left() == 2
    assert card_path.stat().st_mode & 0o777 == 0o600


def test_sign_and_verify(client: JpkiClient, store: TrustStore) -> None:
    client.verify_auth_pin(PIN)
    challenge = b"server challenge 1"
    signature = client.sign_challenge(challenge)
    assert len(signature) == 256
    result = store.verify(client.read_auth_certificate(), signature, challenge)
    assert result.ok, result.message
    assert result.revocation_status == "checked"
    assert result.issuer and "JPKI for user authentication" in result.issuer


def test_card_signs_the_digest_info_it_is_sent(card: VirtualCard) -> None:
    card.insert()
    for command in (a.select_aid(a.JPKI_AID), a.select_ef(a.AUTH_PIN_EF), a.verify(b"1234")):
        assert card.transmit(command)[-2:] == b"\x90\x00"
    card.transmit(a.select_ef(a.AUTH_KEY_EF))
    assert card.transmit(a.sign(b"not a digest info"))[-2:] == b"\x6a\x80"
    digest = hashlib.sha256(b"x").digest()
    assert len(card.transmit(a.sign(a.sha256_digest_info(digest)))) == 258


def test_card_surface_attributes(client: JpkiClient) -> None:
    assert client.read_surface_attributes(PIN) == HOLDER


def test_signature_certificate_needs_signature_pin(card: VirtualCard) -> None:
    card.insert()
    card.transmit(a.select_aid(a.JPKI_AID))
    card.transmit(a.select_ef(a.SIGN_CERT_EF))
    assert card.transmit(a.read_binary(0, 4)) == b"\x69\x82"
    card.transmit(a.select_ef(a.SIGN_PIN_EF))
    assert card.transmit(a.verify(SIGNATURE_PIN.encode())) == b"\x90\x00"
    card.transmit(a.select_ef(a.SIGN_CERT_EF))
    assert card.transmit(a.read_binary(0, 4))[-2:] == b"\x90\x00"


def test_individual_number_ef_is_absent(card: VirtualCard) -> None:
    card.insert()
    card.transmit(a.select_aid(a.SURFACE_AID))
    assert card.transmit(a.select_ef(0x0001)) == b"\x6a\x82"


def test_fault_removal_after_n_apdus(card: VirtualCard) -> None:
    card.faults = Faults(remove_after=3)
    client = JpkiClient(InProcessTransport(card))
    with pytest.raises(CardRemoved):
        client.read_auth_certificate()
    assert card.apdu_count == 3


def test_fault_wrong_status_word(card: VirtualCard) -> None:
    card.faults = Faults(wrong_sw_at=1, wrong_sw=0x6F00)
    with pytest.raises(UnexpectedStatus) as err:
        JpkiClient(InProcessTransport(card)).read_token()
    assert err.value.sw == 0x6F00
    assert "6F00" in str(err.value)
