from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from card_reader.authority import AUTH, JST, Authority, ca_name, new_card_key
from card_reader.verify import ResultCode, TrustStore, attested_message, reader_public_key

CHALLENGE = b"single-use challenge 0123456789"
BIRTH = date(1990, 7, 1)
DER = serialization.Encoding.DER
SHA256_WITH_RSA = bytes.fromhex("2a864886f70d01010b")  # 1.2.840.113549.1.1.11, DER contents


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return new_card_key()


def sign(key: rsa.RSAPrivateKey, challenge: bytes = CHALLENGE) -> bytes:
    return key.sign(challenge, padding.PKCS1v15(), hashes.SHA256())


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(DER)


@pytest.mark.parametrize("generation", ["2015", "2023"])
def test_both_generations_verify(
    authority: Authority, store: TrustStore, key: rsa.RSAPrivateKey, generation: str
) -> None:
    cert = authority.issue_auth_certificate(key.public_key(), BIRTH, generation=generation)
    result = store.verify(der(cert), sign(key), CHALLENGE)
    assert result.code is ResultCode.OK
    assert (result.serial, result.issuer) == (cert.serial_number, cert.issuer.rfc4514_string())
    assert f"CA {generation}" in result.issuer


def test_forged_root_with_the_same_name_is_untrusted(
    store: TrustStore, key: rsa.RSAPrivateKey
) -> None:
    forger = new_card_key()
    name = ca_name("2023", AUTH)
    now = datetime.now(UTC)
    forged = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=anyone"))
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(42)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), True
        )
        .sign(forger, hashes.SHA256())
    )
    result = store.verify(der(forged), sign(key), CHALLENGE)
    assert result.code is ResultCode.CERT_UNTRUSTED
    assert result.serial == 42


def test_garbage_is_untrusted(store: TrustStore) -> None:
    assert store.verify(b"\x30\x03abc", b"", CHALLENGE).code is ResultCode.CERT_UNTRUSTED


def test_expired(authority: Authority, store: TrustStore, key: rsa.RSAPrivateKey) -> None:
    issued = datetime(2016, 4, 1, tzinfo=UTC)
    cert = authority.issue_auth_certificate(key.public_key(), BIRTH, now=issued, generation="2015")
    assert cert.not_valid_after_utc.astimezone(JST).date() == date(2020, 7, 1)
    assert store.verify(der(cert), sign(key), CHALLENGE).code is ResultCode.CERT_EXPIRED


def test_not_yet_valid(authority: Authority, store: TrustStore, key: rsa.RSAPrivateKey) -> None:
    cert = authority.issue_auth_certificate(key.public_key(), BIRTH)
    before = cert.not_valid_before_utc - timedelta(minutes=1)
    result = store.verify(der(cert), sign(key), CHALLENGE, at=before)
    assert result.code is ResultCode.CERT_NOT_YET_VALID


@pytest.mark.parametrize("revocation", ["crl", "ocsp"])
def test_revoked(authority: Authority, key: rsa.RSAPrivateKey, revocation: str) -> None:
    store = TrustStore.for_authority(authority, revocation=revocation)
    cert = authority.issue_auth_certificate(key.public_key(), BIRTH)
    assert store.verify(der(cert), sign(key), CHALLENGE).code is ResultCode.OK
    authority.revoke(cert, x509.ReasonFlags.key_compromise)
    result = store.verify(der(cert), sign(key), CHALLENGE)
    assert result.code is ResultCode.CERT_REVOKED
    assert result.revocation_status == "checked"


def test_wrong_key_usage(authority: Authority, store: TrustStore, key: rsa.RSAPrivateKey) -> None:
    now = datetime.now(UTC)
    encipher_only = x509.KeyUsage(False, False, True, False, False, False, False, False, False)
    cert = authority.ca().issue(key.public_key(), now, now + timedelta(days=30), encipher_only)
    assert store.verify(der(cert), sign(key), CHALLENGE).code is ResultCode.CERT_KEY_USAGE


def test_tampered_signature(
    authority: Authority, store: TrustStore, key: rsa.RSAPrivateKey
) -> None:
    cert = authority.issue_auth_certificate(key.public_key(), BIRTH)
    signature = bytearray(sign(key))
    signature[100] ^= 0x01
    result = store.verify(der(cert), bytes(signature), CHALLENGE)
    assert result.code is ResultCode.SIGNATURE_INVALID


def test_signature_over_another_challenge(
    authority: Authority, store: TrustStore, key: rsa.RSAPrivateKey
) -> None:
    cert = authority.issue_auth_certificate(key.public_key(), BIRTH)
    result = store.verify(der(cert), sign(key, b"another challenge"), CHALLENGE)
    assert result.code is ResultCode.SIGNATURE_INVALID


def test_user_supplied_root_is_trusted_without_revocation(
    tmp_path: Path, key: rsa.RSAPrivateKey
) -> None:
    other = Authority(tmp_path / "other")
    roots = tmp_path / "roots"
    roots.mkdir()
    (roots / "real-root.der").write_bytes(der(other.ca().certificate))
    (roots / "README.txt").write_text("ignored")
    store = TrustStore()
    assert store.add_roots_from_dir(roots) == 1
    cert = other.issue_auth_certificate(key.public_key(), BIRTH)
    result = store.verify(der(cert), sign(key), CHALLENGE)
    assert result.code is ResultCode.OK
    assert result.revocation_status == "not_checked"


def test_face_attestation_by_any_registered_reader(
    authority: Authority, store: TrustStore, key: rsa.RSAPrivateKey
) -> None:
    cert = der(authority.issue_auth_certificate(key.public_key(), BIRTH))
    reader, other = new_card_key(), new_card_key()
    attestation = sign(reader, attested_message(CHALLENGE, cert, []))
    keys = [other.public_key(), reader.public_key()]
    assert store.verify_attested(cert, attestation, CHALLENGE, keys, []).code is ResultCode.OK
    refused = store.verify_attested(cert, attestation, CHALLENGE, [other.public_key()], [])
    assert refused.code is ResultCode.SIGNATURE_INVALID
    assert (
        store.verify_attested(cert, attestation, CHALLENGE, [], []).code
        is ResultCode.SIGNATURE_INVALID
    )


def test_face_attestation_covers_the_consents(
    authority: Authority, store: TrustStore, key: rsa.RSAPrivateKey
) -> None:
    cert = der(authority.issue_auth_certificate(key.public_key(), BIRTH))
    reader = new_card_key()
    attestation = sign(reader, attested_message(CHALLENGE, cert, ["medication", "checkup"]))
    keys = [reader.public_key()]
    as_attested = store.verify_attested(
        cert, attestation, CHALLENGE, keys, ["checkup", "medication"]
    )
    assert as_attested.code is ResultCode.OK
    for changed in ([], ["medication"], ["medication", "checkup", "surgery"]):
        result = store.verify_attested(cert, attestation, CHALLENGE, keys, changed)
        assert result.code is ResultCode.SIGNATURE_INVALID


def test_the_attested_consents_are_sorted_names_joined_by_commas() -> None:
    message = attested_message(b"C", b"D", ["surgery", "checkup"])
    assert message == b"CDcheckup,surgery"
    assert attested_message(b"C", b"D", []) == b"CD"


def test_an_unknown_signature_algorithm_is_untrusted(
    authority: Authority, store: TrustStore, key: rsa.RSAPrivateKey
) -> None:
    cert = der(authority.issue_auth_certificate(key.public_key(), BIRTH))
    unknown = cert.replace(SHA256_WITH_RSA, bytes.fromhex("2a864886f70d01017f"))
    result = store.verify(unknown, sign(key), CHALLENGE)
    assert result.code is ResultCode.CERT_UNTRUSTED
    assert "1.2.840.113549.1.1.127" in result.message


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    changes=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4)
)
def test_no_changed_certificate_makes_verification_raise(
    authority: Authority, store: TrustStore, key: rsa.RSAPrivateKey, changes: list[tuple[int, int]]
) -> None:
    """Whatever bytes a reader sends as the certificate, the answer is a result code."""
    cert = bytearray(der(authority.issue_auth_certificate(key.public_key(), BIRTH)))
    for position, value in changes:
        cert[position % len(cert)] = value
    assert store.verify(bytes(cert), sign(key), CHALLENGE).code in set(ResultCode)


def test_reader_keys_that_are_not_rsa_public_keys_are_ignored(key: rsa.RSAPrivateKey) -> None:
    pem = key.public_key().public_bytes(DER.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert reader_public_key(pem.decode()) is not None
    assert reader_public_key("-----BEGIN PUBLIC KEY-----\nnot a key\n") is None
