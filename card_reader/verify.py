"""Verification of what a card sent: its authentication certificate and its signature over a challenge.

Checks, in order: the certificate chains to a root of the trust store; the certificate and its root
are valid at the given time; key usage allows digital signatures; the PKCS#1 v1.5 SHA-256 signature
verifies: in PIN mode the card's signature over the challenge with the certificate's key, in face mode
a registered reader key's attestation over challenge ‖ certificate DER ‖ the consent choices
(docs/rules.md §6); the certificate is not revoked (when its root has a revocation source). The result
carries a stable code, the certificate serial and its issuer (RFC 4514) for the registry's card link.
A certificate that cannot be parsed, or whose signature algorithm is unknown, is ``CERT_UNTRUSTED``:
whatever bytes a reader sends, verification answers with a code and never raises.

Real cards: put the J-LIS root certificates ("JPKI for user authentication" CA certificates, PEM or
DER; files ``*.pem``, ``*.crt``, ``*.cer`` or ``*.der``) into ``<jpki_dir>/trusted-roots/``
(``var/jpki/trusted-roots/`` by default, ``$ELIGSIM_JPKI_DIR/trusted-roots/`` when set), or pass any
directory to ``TrustStore.add_roots_from_dir``. Their certificates then verify like simulated ones, with
``revocation_status="not_checked"`` since J-LIS answers revocation queries only to authorised
verifiers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from card_reader.authority import AUTH, GENERATIONS, Authority
from card_reader.revocation import (
    CrlChecker,
    OcspChecker,
    RevocationChecker,
    RevocationUnknown,
)

TRUSTED_ROOTS_DIR = "trusted-roots"
CHECKED, NOT_CHECKED = "checked", "not_checked"
_ROOT_SUFFIXES = (".pem", ".crt", ".cer", ".der")
# what cryptography raises, often lazily on first access, for a malformed or unsupported certificate
_UNREADABLE = (ValueError, UnsupportedAlgorithm, x509.InvalidVersion, x509.DuplicateExtension)


class ResultCode(StrEnum):
    OK = "OK"
    CERT_UNTRUSTED = "CERT_UNTRUSTED"
    CERT_EXPIRED = "CERT_EXPIRED"
    CERT_NOT_YET_VALID = "CERT_NOT_YET_VALID"
    CERT_REVOKED = "CERT_REVOKED"
    CERT_KEY_USAGE = "CERT_KEY_USAGE"
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    REVOCATION_UNKNOWN = "REVOCATION_UNKNOWN"


@dataclass(frozen=True)
class VerificationResult:
    code: ResultCode
    message: str
    serial: int | None = None
    issuer: str | None = None
    revocation_status: str = NOT_CHECKED

    @property
    def ok(self) -> bool:
        return self.code is ResultCode.OK


@dataclass(frozen=True)
class _Root:
    certificate: x509.Certificate
    public_key: rsa.RSAPublicKey
    checker: RevocationChecker | None
    subject: str  # RFC 4514, computed once


def _tlv_end(der: bytes, i: int) -> tuple[int, int]:
    """(start of the value, end of the TLV) for the DER element at ``i`` (one-byte tags)."""
    length = der[i + 1]
    start = i + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(der[start : start + count], "big")
        start += count
    return start, start + length


def _issuer_der(tbs: bytes) -> bytes:
    """The issuer Name's DER inside a TBSCertificate, found without building Python ``Name``s:
    SEQUENCE { [0] version, serial, signature algorithm, issuer, ... }."""
    i, _ = _tlv_end(tbs, 0)
    if tbs[i] == 0xA0:  # explicit version
        i = _tlv_end(tbs, i)[1]
    i = _tlv_end(tbs, i)[1]  # serial number
    i = _tlv_end(tbs, i)[1]  # signature algorithm
    return tbs[i : _tlv_end(tbs, i)[1]]


def _key_identifier(
    certificate: x509.Certificate,
    kind: type[x509.AuthorityKeyIdentifier] | type[x509.SubjectKeyIdentifier],
) -> bytes | None:
    try:
        value = certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    if isinstance(value, x509.AuthorityKeyIdentifier):
        return value.key_identifier
    return value.digest


class TrustStore:
    """Trusted roots (parsed once), each with an optional revocation checker."""

    def __init__(self) -> None:
        self._roots: dict[bytes, list[_Root]] = {}  # by the DER of the subject name

    def add_root(
        self, certificate: x509.Certificate, checker: RevocationChecker | None = None
    ) -> None:
        public_key = certificate.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise ValueError(f"root {certificate.subject.rfc4514_string()} has no RSA key")
        root = _Root(certificate, public_key, checker, certificate.subject.rfc4514_string())
        self._roots.setdefault(certificate.subject.public_bytes(), []).append(root)

    def add_roots_from_dir(self, directory: Path) -> int:
        """Trust every certificate in ``directory`` (PEM, possibly several a file, or DER); count."""
        added = 0
        for path in sorted(Path(directory).iterdir()):
            if path.suffix.lower() not in _ROOT_SUFFIXES:
                continue
            data = path.read_bytes()
            if b"-----BEGIN CERTIFICATE-----" in data:
                certificates = x509.load_pem_x509_certificates(data)
            else:
                certificates = [x509.load_der_x509_certificate(data)]
            for certificate in certificates:
                self.add_root(certificate)
                added += 1
        return added

    @classmethod
    def for_authority(cls, authority: Authority, revocation: str | None = "crl") -> TrustStore:
        """The simulated user-authentication roots (CRL, OCSP or no revocation checking), plus any
        real roots found in ``<authority dir>/trusted-roots/``."""
        store = cls()
        for generation in GENERATIONS:
            ca = authority.ca(generation, AUTH)
            checker: RevocationChecker | None = None
            if revocation == "crl":
                checker = CrlChecker(ca.crl_der)
            elif revocation == "ocsp":
                checker = OcspChecker(authority.ocsp_respond)
            store.add_root(ca.certificate, checker)
        extra = authority.directory / TRUSTED_ROOTS_DIR
        if extra.is_dir():
            store.add_roots_from_dir(extra)
        return store

    def _root_for(self, certificate: x509.Certificate) -> _Root | None:
        try:
            candidates = self._roots.get(_issuer_der(certificate.tbs_certificate_bytes), [])
        except IndexError:
            return None
        if len(candidates) > 1:  # generations may share a name: prefer the matching key identifier
            key_id = _key_identifier(certificate, x509.AuthorityKeyIdentifier)
            candidates = sorted(
                candidates,
                key=lambda r: _key_identifier(r.certificate, x509.SubjectKeyIdentifier) != key_id,
            )
        algorithm = certificate.signature_hash_algorithm
        if algorithm is None:
            return None
        for root in candidates:
            try:
                root.public_key.verify(
                    certificate.signature,
                    certificate.tbs_certificate_bytes,
                    padding.PKCS1v15(),
                    algorithm,
                )
            except (InvalidSignature, UnsupportedAlgorithm):
                continue
            return root
        return None

    def verify(
        self,
        certificate_der: bytes,
        signature: bytes,
        challenge: bytes,
        at: datetime | None = None,
    ) -> VerificationResult:
        """PIN mode: the card's own key signed ``challenge`` (PKCS#1 v1.5, SHA-256); the
        certificate (DER) is checked at time ``at``."""
        return self._verify(certificate_der, _Proof(signature, challenge), at)

    def verify_attested(
        self,
        certificate_der: bytes,
        signature: bytes,
        challenge: bytes,
        reader_keys: Iterable[rsa.RSAPublicKey],
        consents: Iterable[str],
        at: datetime | None = None,
    ) -> VerificationResult:
        """Face mode (docs/rules.md §6): one of the institution's ``reader_keys`` signed challenge ‖
        certificate DER ‖ the ``consents`` the patient chose at the reader, so software between the
        reader and the server cannot add a consent. The card's key is not used; its certificate is
        checked all the same."""
        message = attested_message(challenge, certificate_der, consents)
        return self._verify(certificate_der, _Proof(signature, message, tuple(reader_keys)), at)

    def _verify(
        self, certificate_der: bytes, proof: _Proof, at: datetime | None
    ) -> VerificationResult:
        at = at or datetime.now(UTC)
        try:
            checked = self._check_certificate(certificate_der, at)
        except _Refused as refusal:
            return refusal.result
        if not proof.verifies(checked.public_key):
            return checked.result(ResultCode.SIGNATURE_INVALID, proof.failure)
        return self._revocation(checked, at)

    def _check_certificate(self, certificate_der: bytes, at: datetime) -> CheckedCertificate:
        """Parse the certificate and check its chain, validity (its root's too) and key usage;
        ``_Refused`` carries the failing result. Revocation is checked after the signature."""
        certificate = _readable_certificate(certificate_der)
        serial = certificate.serial_number
        root = self._root_for(certificate)
        if root is None:
            issuer = certificate.issuer.rfc4514_string()
            message = f"no trusted root signed it (issuer {issuer})"
            raise _Refused(ResultCode.CERT_UNTRUSTED, message, serial, issuer)
        problem = _validity_problem(certificate, root, at)
        key = _signing_key(certificate)
        if problem is not None or key is None:
            # the certificate's issuer name is byte for byte the root's subject
            code, message = problem or _NO_SIGNING_KEY
            raise _Refused(code, message, serial, root.subject)
        return CheckedCertificate(certificate, root, key)

    @staticmethod
    def _revocation(checked: CheckedCertificate, at: datetime) -> VerificationResult:
        checker = checked.root.checker
        if checker is None:
            return checked.result(
                ResultCode.OK, "verified; revocation not checked (no source configured)"
            )
        try:
            revoked = checker.is_revoked(checked.certificate, checked.root.certificate, at)
        except RevocationUnknown as exc:
            return checked.result(
                ResultCode.REVOCATION_UNKNOWN, f"revocation status unknown: {exc}"
            )
        if revoked:
            return checked.result(ResultCode.CERT_REVOKED, "the certificate is revoked", CHECKED)
        return checked.result(ResultCode.OK, "verified", CHECKED)


@dataclass(frozen=True)
class CheckedCertificate:
    """A card certificate that chains to a trusted root, is valid now and may sign."""

    certificate: x509.Certificate
    root: _Root
    public_key: rsa.RSAPublicKey

    def result(
        self, code: ResultCode, message: str, status: str = NOT_CHECKED
    ) -> VerificationResult:
        serial = self.certificate.serial_number
        return VerificationResult(code, message, serial, self.root.subject, status)


class _Refused(Exception):
    """A certificate check failed; ``result`` says how."""

    def __init__(
        self, code: ResultCode, message: str, serial: int | None = None, issuer: str | None = None
    ) -> None:
        super().__init__(message)
        self.result = VerificationResult(code, message, serial, issuer)


_NO_SIGNING_KEY = (ResultCode.CERT_KEY_USAGE, "key usage does not allow digital signatures")


def _readable_certificate(certificate_der: bytes) -> x509.Certificate:
    """The certificate with every field the checks read parsed now: cryptography parses the
    issuer, version, signature algorithm and extensions only when first read, so a malformed or
    unknown one would otherwise raise in the middle of the checks instead of being refused."""
    try:
        certificate = x509.load_der_x509_certificate(certificate_der)
        for field in _LAZY_FIELDS:
            getattr(certificate, field)
    except _UNREADABLE as exc:
        message = f"not a certificate eligsim can check: {exc}"
        raise _Refused(ResultCode.CERT_UNTRUSTED, message) from None
    return certificate


_LAZY_FIELDS = ("serial_number", "version", "issuer", "signature_hash_algorithm", "extensions")


def _validity_problem(
    certificate: x509.Certificate, root: _Root, at: datetime
) -> tuple[ResultCode, str] | None:
    for which, cert in (("certificate", certificate), ("root", root.certificate)):
        if at < cert.not_valid_before_utc:
            return ResultCode.CERT_NOT_YET_VALID, f"{which} valid from {cert.not_valid_before_utc}"
        if at > cert.not_valid_after_utc:
            return ResultCode.CERT_EXPIRED, f"{which} expired on {cert.not_valid_after_utc}"
    return None


def _signing_key(certificate: x509.Certificate) -> rsa.RSAPublicKey | None:
    """The certificate's RSA key when its key usage allows digital signatures."""
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    key = certificate.public_key()
    return key if usage.digital_signature and isinstance(key, rsa.RSAPublicKey) else None


def _signs(key: rsa.RSAPublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class _Proof:
    """A signature over ``message`` by the card's key (PIN mode) or by a reader key (face mode)."""

    signature: bytes
    message: bytes
    reader_keys: tuple[rsa.RSAPublicKey, ...] | None = None

    def verifies(self, card_key: rsa.RSAPublicKey) -> bool:
        keys = (card_key,) if self.reader_keys is None else self.reader_keys
        return any(_signs(key, self.signature, self.message) for key in keys)

    @property
    def failure(self) -> str:
        if self.reader_keys is None:
            return "the signature over the challenge is invalid"
        return (
            "no registered reader key signed the challenge, the certificate and the consents sent"
        )


def attested_message(challenge: bytes, certificate_der: bytes, consents: Iterable[str]) -> bytes:
    """What a face-recognition reader signs: the server's challenge ‖ the card certificate (DER) ‖
    the consented categories, sorted and joined by "," in UTF-8 (empty when none). The DER is
    self-delimiting, so no separator is needed before the consents."""
    return challenge + certificate_der + ",".join(sorted(set(consents))).encode("utf-8")


@lru_cache(maxsize=1024)
def reader_public_key(pem: str) -> rsa.RSAPublicKey | None:
    """A registered reader key (PEM, parsed once); None when it is not an RSA public key."""
    try:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return None
    return key if isinstance(key, rsa.RSAPublicKey) else None
