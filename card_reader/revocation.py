"""Pluggable revocation checking: the simulated authority's CRL or OCSP responder.

A checker answers for certificates of one issuer. Real cards' roots have none unless one is configured,
and their results say ``revocation_status="not_checked"``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp


class RevocationUnknown(Exception):
    """The revocation source gave no trustworthy answer."""


class RevocationChecker(Protocol):
    def is_revoked(
        self, certificate: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> bool: ...


class CrlChecker:
    """Looks the serial up in a CRL from ``source``; a new CRL is parsed and verified once."""

    def __init__(self, source: Callable[[], bytes]) -> None:
        self._source = source
        # (DER, parsed CRL) swapped in one assignment: safe to share between threads
        self._current_crl: tuple[bytes, x509.CertificateRevocationList] | None = None

    def _current(self, issuer: x509.Certificate) -> x509.CertificateRevocationList:
        der = self._source()
        cached = self._current_crl
        if cached is not None and (der is cached[0] or der == cached[0]):
            return cached[1]
        try:
            crl = x509.load_der_x509_crl(der)
        except ValueError as exc:
            raise RevocationUnknown(f"unreadable CRL: {exc}") from None
        public_key = issuer.public_key()
        if crl.issuer != issuer.subject or not (
            isinstance(public_key, rsa.RSAPublicKey) and crl.is_signature_valid(public_key)
        ):
            raise RevocationUnknown("CRL not signed by the certificate's issuer")
        self._current_crl = (der, crl)
        return crl

    def is_revoked(
        self, certificate: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> bool:
        entry = self._current(issuer).get_revoked_certificate_by_serial_number(
            certificate.serial_number
        )
        return entry is not None and entry.revocation_date_utc <= at


class OcspChecker:
    """Asks an OCSP ``responder`` (DER request in, DER response out) and checks its signature."""

    def __init__(self, responder: Callable[[bytes], bytes]) -> None:
        self._responder = responder

    def is_revoked(
        self, certificate: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> bool:
        request = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, hashes.SHA256())
        der = request.build().public_bytes(serialization.Encoding.DER)
        try:
            response = ocsp.load_der_ocsp_response(self._responder(der))
        except ValueError as exc:
            raise RevocationUnknown(f"unreadable OCSP response: {exc}") from None
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise RevocationUnknown(f"OCSP responder said {response.response_status.name}")
        public_key = issuer.public_key()
        algorithm = response.signature_hash_algorithm
        if not isinstance(public_key, rsa.RSAPublicKey) or algorithm is None:
            raise RevocationUnknown("OCSP response not verifiable with the issuer's key")
        try:
            public_key.verify(
                response.signature, response.tbs_response_bytes, padding.PKCS1v15(), algorithm
            )
        except InvalidSignature:
            raise RevocationUnknown("OCSP response not signed by the issuer") from None
        if response.serial_number != certificate.serial_number:
            raise RevocationUnknown("OCSP response for another certificate")
        status = response.certificate_status
        if status == ocsp.OCSPCertStatus.UNKNOWN:
            raise RevocationUnknown("OCSP responder does not know the certificate")
        revoked_at = response.revocation_time_utc
        return status == ocsp.OCSPCertStatus.REVOKED and (revoked_at is None or revoked_at <= at)
