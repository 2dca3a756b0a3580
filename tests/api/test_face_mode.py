"""Face mode (docs/rules.md §6): a registered face-recognition reader attests instead of the card's key."""

import base64
from collections.abc import Iterable

import pytest
from cryptography import x509
from sqlalchemy import func, select

from app.service.accounts import add_reader_key
from app.service.audit import verify_chain
from app.service.consent import consents
from card_reader.authority import Authority
from card_reader.face_reader import FaceReader
from card_reader.jpki import JpkiClient
from card_reader.transport import InProcessTransport
from tests.api.conftest import CLINIC, bearer, card_answer

GARBAGE = b"\x30\x03abc"


@pytest.fixture(scope="session")
def face_readers(tmp_path_factory) -> dict[str, FaceReader]:
    """Two readers (RSA key generation is the slow part): one gets registered, one never does."""
    return {
        name: FaceReader.load_or_create(tmp_path_factory.mktemp(name))
        for name in ("registered", "unregistered")
    }


@pytest.fixture
def reader(registry, keys, face_readers) -> FaceReader:
    """The clinic's registered face-recognition reader."""
    with registry.begin() as conn:
        add_reader_key(conn, CLINIC, "受付1", face_readers["registered"].public_key_pem())
    return face_readers["registered"]


def face_answer(card, challenge_b64: str, reader: FaceReader, consents: Iterable[str] = ()) -> dict:
    """What a face-mode reader sends: the card's certificate (read without a PIN), its attestation
    over the challenge, the certificate and the ``consents`` chosen on its screen."""
    certificate = JpkiClient(InProcessTransport(card)).read_auth_certificate()
    signature = reader.attest(base64.b64decode(challenge_b64), certificate, consents)
    return {"certificate": b64(certificate), "signature": b64(signature), "method": "face"}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def verify_face(client, key: str, answer_for, consents: dict | None = None):
    session = client.post("/api/v1/card-sessions", headers=bearer(key)).get_json()
    body = {**answer_for(session["challenge"]), "consents": consents or {}}
    return client.post(
        f"/api/v1/card-sessions/{session['session_id']}/verification",
        json=body,
        headers=bearer(key),
    )


def error_of(response) -> tuple[int, str]:
    return response.status_code, response.get_json()["error"]["code"]


def test_face_visit_with_a_registered_reader(client, keys, card, reader):
    response = verify_face(
        client,
        keys["clinic"],
        lambda c: face_answer(card, c, reader, ["medication"]),
        {"medication": True},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["eligibility"]["validity"] == "valid"
    visit = client.get(f"/api/v1/visits/{body['visit_id']}", headers=bearer(keys["clinic"]))
    assert visit.get_json()["method"] == "face"
    medications = client.get(
        f"/api/v1/visits/{body['visit_id']}/medications", headers=bearer(keys["clinic"])
    )
    assert medications.status_code == 200


def test_face_needs_no_pin(client, keys, card, reader):
    verify_face(client, keys["clinic"], lambda c: face_answer(card, c, reader))
    assert JpkiClient(InProcessTransport(card)).auth_pin_tries_left() == 3


def test_an_unregistered_reader_is_refused_and_audited(
    client, keys, card, reader, face_readers, registry
):
    stranger = face_readers["unregistered"]
    response = verify_face(client, keys["clinic"], lambda c: face_answer(card, c, stranger))
    assert error_of(response) == (422, "SIGNATURE_INVALID")
    with registry.connect() as conn:
        assert verify_chain(conn).entries == 1


def test_a_reader_of_another_institution_is_refused(client, keys, card, reader):
    response = verify_face(client, keys["pharmacy"], lambda c: face_answer(card, c, reader))
    assert error_of(response) == (422, "SIGNATURE_INVALID")


def test_the_cards_own_signature_is_not_a_face_attestation(client, keys, card, reader):
    response = verify_face(
        client, keys["clinic"], lambda c: {**card_answer(card, c), "method": "face"}
    )
    assert error_of(response) == (422, "SIGNATURE_INVALID")


def test_an_attestation_binds_the_certificate(client, keys, card, reader):
    def over_another_certificate(challenge: str) -> dict:
        signature = reader.attest(base64.b64decode(challenge), b"another certificate", [])
        return {**face_answer(card, challenge, reader), "signature": b64(signature)}

    response = verify_face(client, keys["clinic"], over_another_certificate)
    assert error_of(response) == (422, "SIGNATURE_INVALID")


def test_consents_the_reader_did_not_attest_are_refused_and_audited(
    client, keys, card, reader, registry
):
    """Front-desk software adds a consent to what the patient chose at the face reader (nothing)."""
    response = verify_face(
        client, keys["clinic"], lambda c: face_answer(card, c, reader), {"medication": True}
    )
    assert error_of(response) == (422, "SIGNATURE_INVALID")
    with registry.connect() as conn:
        assert verify_chain(conn).entries == 1
        assert conn.execute(select(func.count()).select_from(consents)).scalar() == 0


def test_consents_are_attested_in_any_order(client, keys, card, reader):
    """The reader signs the categories as a set: the order it lists them in does not matter."""
    chosen = {"medication": True, "checkup": True, "limit_certificate": True}
    response = verify_face(
        client,
        keys["clinic"],
        lambda c: face_answer(card, c, reader, ["limit_certificate", "medication", "checkup"]),
        chosen,
    )
    assert response.status_code == 201
    given = [c["category"] for c in response.get_json()["consents"]]
    assert given == ["medication", "checkup", "limit_certificate"]


def test_a_revoked_card_is_refused_in_face_mode(client, keys, card, reader, app):
    certificate = x509.load_der_x509_certificate(
        JpkiClient(InProcessTransport(card)).read_auth_certificate()
    )
    Authority(app.config["SETTINGS"].jpki_dir).revoke(certificate, x509.ReasonFlags.key_compromise)
    response = verify_face(client, keys["clinic"], lambda c: face_answer(card, c, reader))
    assert error_of(response) == (422, "CERT_REVOKED")


def test_an_untrusted_certificate_is_refused_in_face_mode(client, keys, reader):
    def garbage(challenge: str) -> dict:
        signature = reader.attest(base64.b64decode(challenge), GARBAGE, [])
        return {"certificate": b64(GARBAGE), "signature": b64(signature), "method": "face"}

    response = verify_face(client, keys["clinic"], garbage)
    assert error_of(response) == (422, "CERT_UNTRUSTED")
