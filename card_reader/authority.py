"""Simulated JPKI certification authority (公的個人認証サービス, as run by J-LIS).

Two root generations are valid at once, like the real authority's 2015 and 2023 roots; each generation
has a user-authentication CA and a digital-signature CA, all self-signed RSA 2048 roots issuing
directly. The simulated roots are marked ``CN=Simulated JPKI ...`` so their issuer names never equal a
real root's, and their validity is widened so that both generations are usable today.

Each CA lives in ``<jpki_dir>/<generation>-<purpose>/`` (``ca-key.pem`` mode 0600, ``ca-cert.pem``,
``revoked.json``, the published ``crl.der``), created on first use. Revocation is served as a CRL and
as OCSP responses built with ``cryptography``.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from card_reader.files import write_private
from card_reader.surface import SurfaceAttributes

GENERATIONS = ("2015", "2023")
CURRENT_GENERATION = "2023"
AUTH, SIGN = "auth", "sign"
PURPOSES = (AUTH, SIGN)
JST = timezone(timedelta(hours=9))
CRL_LIFETIME = timedelta(days=1)
OCSP_LIFETIME = timedelta(hours=1)

_PURPOSE_OU = {AUTH: "JPKI for user authentication", SIGN: "JPKI for digital signature"}
_ROOT_VALIDITY = {
    "2015": (datetime(2015, 1, 1, tzinfo=UTC), datetime(2036, 12, 31, tzinfo=UTC)),
    "2023": (datetime(2023, 1, 1, tzinfo=UTC), datetime(2044, 12, 31, tzinfo=UTC)),
}
_ATTRIBUTE_OID = "1.2.392.200149.8.5.5."
NAME_OID = x509.ObjectIdentifier(_ATTRIBUTE_OID + "1")
SEX_OID = x509.ObjectIdentifier(_ATTRIBUTE_OID + "3")
BIRTH_DATE_OID = x509.ObjectIdentifier(_ATTRIBUTE_OID + "4")
ADDRESS_OID = x509.ObjectIdentifier(_ATTRIBUTE_OID + "5")


def ca_name(generation: str, purpose: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, _PURPOSE_OU[purpose]),
            x509.NameAttribute(
                NameOID.ORGANIZATIONAL_UNIT_NAME,
                "Japan Agency for Local Authority Information Systems",
            ),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Simulated JPKI {purpose} CA {generation}"),
        ]
    )


def fifth_birthday_after(birth: date, issued: date) -> date:
    """Last day of validity: the holder's 5th birthday after the issue date (29 Feb → 28 Feb)."""
    year = issued.year + (4 if (birth.month, birth.day) > (issued.month, issued.day) else 5)
    try:
        return birth.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def new_card_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _der_string(tag: int, text: str) -> bytes:
    """DER of a short string type (UTF8String 0x0C, PrintableString 0x13) for an otherName value."""
    body = text.encode("utf-8")
    if len(body) < 0x80:
        return bytes([tag, len(body)]) + body
    size = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


@dataclass(frozen=True)
class Revocation:
    serial: int
    revoked_at: datetime
    reason: x509.ReasonFlags


class CertificateAuthority:
    """One simulated root: its key, certificate, revocation list and published CRL."""

    def __init__(
        self, directory: Path, key: rsa.RSAPrivateKey, certificate: x509.Certificate
    ) -> None:
        self.directory = directory
        self.key = key
        self.certificate = certificate
        self._crl_cache: tuple[tuple[int, int], bytes, datetime] | None = None

    @classmethod
    def load_or_create(cls, directory: Path, generation: str, purpose: str) -> CertificateAuthority:
        if not (directory / "ca-cert.pem").exists():
            _create_ca_dir(directory, generation, purpose)
        key = serialization.load_pem_private_key((directory / "ca-key.pem").read_bytes(), None)
        assert isinstance(key, rsa.RSAPrivateKey)
        cert = x509.load_pem_x509_certificate((directory / "ca-cert.pem").read_bytes())
        return cls(directory, key, cert)

    def issue(
        self,
        public_key: rsa.RSAPublicKey,
        not_before: datetime,
        not_after: datetime,
        key_usage: x509.KeyUsage,
        extensions: tuple[x509.ExtensionType, ...] = (),
    ) -> x509.Certificate:
        """Issue an end-entity certificate whose subject is a random token (no personal data)."""
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.COMMON_NAME, secrets.token_hex(13).upper()),
            ]
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(secrets.randbits(62) | 1 << 62)  # positive, fits a signed 64-bit column
            .not_valid_before(not_before)
            .not_valid_after(min(not_after, self.certificate.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(key_usage, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        for extension in extensions:
            builder = builder.add_extension(extension, critical=False)
        return builder.sign(self.key, hashes.SHA256())

    # -- revocation ---------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.directory / "lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def revocations(self) -> list[Revocation]:
        path = self.directory / "revoked.json"
        if not path.exists():
            return []
        return [
            Revocation(
                int(r["serial"]),
                datetime.fromisoformat(r["revoked_at"]),
                x509.ReasonFlags(r["reason"]),
            )
            for r in json.loads(path.read_text())
        ]

    def revoke(self, serial: int, reason: x509.ReasonFlags, when: datetime | None = None) -> None:
        """Add ``serial`` to the persisted revocation list and publish a new CRL (idempotent)."""
        when = (when or datetime.now(UTC)).replace(microsecond=0)
        with self._locked():
            entries = self.revocations()
            if any(r.serial == serial for r in entries):
                return
            entries.append(Revocation(serial, when, reason))
            rows = [
                {
                    "serial": str(r.serial),
                    "revoked_at": r.revoked_at.isoformat(),
                    "reason": r.reason.value,
                }
                for r in entries
            ]
            write_private(self.directory / "revoked.json", json.dumps(rows, indent=1).encode())
            self._publish_crl(entries, when)

    def _publish_crl(self, entries: list[Revocation], now: datetime) -> bytes:
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(now)
            .next_update(now + CRL_LIFETIME)
        )
        for entry in entries:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(entry.serial)
                .revocation_date(entry.revoked_at)
                .add_extension(x509.CRLReason(entry.reason), critical=False)
                .build()
            )
        der = builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
        write_private(self.directory / "crl.der", der)
        return der

    def crl_der(self, now: datetime | None = None) -> bytes:
        """The published CRL, re-published when missing or past its next update; cached by mtime."""
        now = now or datetime.now(UTC)
        path = self.directory / "crl.der"
        try:
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = (0, 0)
        cache = self._crl_cache
        if cache and cache[0] == stamp and now < cache[2]:
            return cache[1]
        der = path.read_bytes() if stamp != (0, 0) else b""
        next_update = x509.load_der_x509_crl(der).next_update_utc if der else None
        if next_update is None or now >= next_update:
            with self._locked():
                der = self._publish_crl(self.revocations(), now.replace(microsecond=0))
            next_update = now + CRL_LIFETIME
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        self._crl_cache = (stamp, der, next_update)
        return der

    def ocsp_response(
        self, request: ocsp.OCSPRequest, now: datetime | None = None
    ) -> ocsp.OCSPResponse:
        """Answer one OCSP request for a certificate this CA issued (caller matched the issuer)."""
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        revoked = next((r for r in self.revocations() if r.serial == request.serial_number), None)
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=request.serial_number,
            algorithm=request.hash_algorithm,
            cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
            this_update=now,
            next_update=now + OCSP_LIFETIME,
            revocation_time=revoked.revoked_at if revoked else None,
            revocation_reason=revoked.reason if revoked else None,
        )
        return builder.responder_id(ocsp.OCSPResponderEncoding.HASH, self.certificate).sign(
            self.key, hashes.SHA256()
        )


def _create_ca_dir(directory: Path, generation: str, purpose: str) -> None:
    """Create a CA in a temporary directory and rename it into place, so concurrent creators agree."""
    directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}."))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = ca_name(generation, purpose)
    not_before, not_after = _ROOT_VALIDITY[generation]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_private(staging / "ca-key.pem", pem_key)
    (staging / "ca-cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    try:
        os.rename(staging, directory)
    except OSError:  # another process created it first: keep theirs
        shutil.rmtree(staging)


class Authority:
    """All simulated roots under one directory, chosen by the caller (the service: its
    ``jpki_dir`` setting)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._cas: dict[tuple[str, str], CertificateAuthority] = {}

    def ca(self, generation: str = CURRENT_GENERATION, purpose: str = AUTH) -> CertificateAuthority:
        if generation not in GENERATIONS or purpose not in PURPOSES:
            raise ValueError(f"unknown CA {generation}-{purpose}")
        key = (generation, purpose)
        if key not in self._cas:
            self._cas[key] = CertificateAuthority.load_or_create(
                self.directory / f"{generation}-{purpose}", generation, purpose
            )
        return self._cas[key]

    def all_cas(self) -> list[CertificateAuthority]:
        return [self.ca(g, p) for g in GENERATIONS for p in PURPOSES]

    def issuer_of(self, certificate: x509.Certificate) -> CertificateAuthority:
        for ca in self.all_cas():
            if ca.certificate.subject == certificate.issuer:
                return ca
        raise LookupError(f"not issued by this authority: {certificate.issuer.rfc4514_string()}")

    def issue_auth_certificate(
        self,
        public_key: rsa.RSAPublicKey,
        birth_date: date,
        now: datetime | None = None,
        generation: str = CURRENT_GENERATION,
    ) -> x509.Certificate:
        """User-authentication certificate (利用者証明用電子証明書): digitalSignature, no personal data."""
        not_before, not_after = _validity(birth_date, now)
        usage = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
        return self.ca(generation, AUTH).issue(public_key, not_before, not_after, usage)

    def issue_signature_certificate(
        self,
        public_key: rsa.RSAPublicKey,
        holder: SurfaceAttributes,
        now: datetime | None = None,
        generation: str = CURRENT_GENERATION,
    ) -> x509.Certificate:
        """Signature certificate (署名用電子証明書): the four attributes in SubjectAltName otherNames."""
        not_before, not_after = _validity(holder.birth_date, now)
        usage = x509.KeyUsage(True, True, False, False, False, False, False, False, False)
        alt_names = x509.SubjectAlternativeName(
            [
                x509.OtherName(NAME_OID, _der_string(0x0C, holder.name)),
                x509.OtherName(SEX_OID, _der_string(0x13, holder.sex)),
                x509.OtherName(
                    BIRTH_DATE_OID, _der_string(0x13, holder.birth_date.strftime("%Y%m%d"))
                ),
                x509.OtherName(ADDRESS_OID, _der_string(0x0C, holder.address)),
            ]
        )
        return self.ca(generation, SIGN).issue(
            public_key, not_before, not_after, usage, (alt_names,)
        )

    def revoke(self, certificate: x509.Certificate, reason: x509.ReasonFlags) -> None:
        self.issuer_of(certificate).revoke(certificate.serial_number, reason)

    def ocsp_respond(self, request_der: bytes) -> bytes:
        """An OCSP responder over DER: answers for any of the simulated CAs, ``unauthorized`` otherwise."""
        request = ocsp.load_der_ocsp_request(request_der)
        for ca in self.all_cas():
            if request.issuer_key_hash == _key_hash(ca.certificate, request.hash_algorithm):
                return ca.ocsp_response(request).public_bytes(serialization.Encoding.DER)
        refusal = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        return refusal.public_bytes(serialization.Encoding.DER)


def _key_hash(certificate: x509.Certificate, algorithm: hashes.HashAlgorithm) -> bytes:
    digest = hashes.Hash(algorithm)
    digest.update(
        certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.PKCS1
        )
    )
    return digest.finalize()


def _validity(birth_date: date, now: datetime | None) -> tuple[datetime, datetime]:
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    last_day = fifth_birthday_after(birth_date, now.astimezone(JST).date())
    end = datetime(last_day.year, last_day.month, last_day.day, 23, 59, 59, tzinfo=JST)
    return now, end.astimezone(UTC)
