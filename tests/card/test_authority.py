from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from card_reader.authority import (
    ADDRESS_OID,
    GENERATIONS,
    NAME_OID,
    Authority,
    fifth_birthday_after,
    new_card_key,
)

from .conftest import HOLDER


@pytest.mark.parametrize(
    ("birth", "issued", "last_day"),
    [
        (date(1980, 5, 10), date(2026, 11, 29), date(2031, 5, 10)),
        (date(1980, 12, 10), date(2026, 11, 29), date(2030, 12, 10)),
        (date(1980, 11, 29), date(2026, 11, 29), date(2031, 11, 29)),
        (date(2000, 2, 29), date(2026, 3, 1), date(2031, 2, 28)),
    ],
)
def test_fifth_birthday_after_issue(birth: date, issued: date, last_day: date) -> None:
    assert fifth_birthday_after(birth, issued) == last_day


def test_roots_and_key_files(authority: Authority) -> None:
    cas = authority.all_cas()
    assert len(cas) == 2 * len(GENERATIONS)
    now = datetime.now(UTC)
    for ca in cas:
        cert = ca.certificate
        assert cert.not_valid_before_utc < now < cert.not_valid_after_utc
        assert (ca.directory / "ca-key.pem").stat().st_mode & 0o777 == 0o600
        assert (
            "Japan Agency for Local Authority Information Systems" in cert.subject.rfc4514_string()
        )
    assert len({ca.certificate.subject for ca in cas}) == len(cas)


def test_reloaded_authority_keeps_its_roots(authority: Authority) -> None:
    again = Authority(authority.directory)
    assert again.ca().certificate == authority.ca().certificate


def test_signature_certificate_carries_attributes(authority: Authority) -> None:
    cert = authority.issue_signature_certificate(new_card_key().public_key(), HOLDER)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    values = {o.type_id: o.value for o in names.get_values_for_type(x509.OtherName)}
    assert HOLDER.name.encode() in values[NAME_OID]
    assert HOLDER.address.encode() in values[ADDRESS_OID]
    assert len(values) == 4
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment


def test_crl_lists_revoked_serials(authority: Authority) -> None:
    cert = authority.issue_auth_certificate(new_card_key().public_key(), HOLDER.birth_date)
    ca = authority.issuer_of(cert)
    authority.revoke(cert, x509.ReasonFlags.key_compromise)
    authority.revoke(cert, x509.ReasonFlags.key_compromise)  # idempotent
    crl = x509.load_der_x509_crl(ca.crl_der())
    assert crl.is_signature_valid(ca.certificate.public_key())
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
    assert [r.serial for r in ca.revocations()].count(cert.serial_number) == 1


def test_ocsp_refuses_unknown_issuer(authority: Authority, tmp_path) -> None:
    other = Authority(tmp_path)
    cert = other.issue_auth_certificate(new_card_key().public_key(), HOLDER.birth_date)
    request = ocsp.OCSPRequestBuilder().add_certificate(
        cert, other.ca().certificate, hashes.SHA256()
    )
    answer = authority.ocsp_respond(request.build().public_bytes(serialization.Encoding.DER))
    status = ocsp.load_der_ocsp_response(answer).response_status
    assert status == ocsp.OCSPResponseStatus.UNAUTHORIZED
