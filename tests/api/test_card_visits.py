"""A whole card visit in process: challenge, proof, consents, eligibility, consent-gated medical data."""

import base64
import time

import pytest
from sqlalchemy import select

from app import create_app
from app.service.audit import verify_chain
from app.service.sessions import card_sessions
from app.settings import load_settings
from tests.api.conftest import bearer, card_answer, present_card


def test_pin_visit_with_medication_consent(client, keys, card):
    response = present_card(
        client, keys["clinic"], card, {"medication": True, "limit_certificate": True}
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["eligibility"]["validity"] == "valid"
    assert body["eligibility"]["limit_certificate"]["bracket_code"] == "A03"
    assert [c["category"] for c in body["consents"]] == ["medication", "limit_certificate"]

    visit = f"/api/v1/visits/{body['visit_id']}"
    medications = client.get(f"{visit}/medications", headers=bearer(keys["clinic"]))
    assert medications.status_code == 200
    assert medications.get_json()["items"][0]["drug_name"] == "アムロジピン錠5mg「サワイ」"
    checkups = client.get(f"{visit}/checkups", headers=bearer(keys["clinic"]))
    assert (checkups.status_code, checkups.get_json()["error"]["code"]) == (403, "CONSENT_REQUIRED")


def test_another_institution_sees_nothing(client, keys, card):
    visit_id = present_card(client, keys["clinic"], card, {"medication": True}).get_json()[
        "visit_id"
    ]
    response = client.get(
        f"/api/v1/visits/{visit_id}/medications", headers=bearer(keys["pharmacy"])
    )
    assert (response.status_code, response.get_json()["error"]["code"]) == (404, "NOT_FOUND")


def test_consent_expires(environment, keys, card, monkeypatch):
    from app import create_app
    from app.settings import load_settings

    short = create_app(load_settings({**environment, "ELIGSIM_CONSENT_TTL_HOURS": "0.0000001"}))
    client = short.test_client()
    visit_id = present_card(client, keys["clinic"], card, {"medication": True}).get_json()[
        "visit_id"
    ]
    response = client.get(f"/api/v1/visits/{visit_id}/medications", headers=bearer(keys["clinic"]))
    assert (response.status_code, response.get_json()["error"]["code"]) == (403, "CONSENT_EXPIRED")


def test_a_challenge_is_single_use(client, keys, card):
    session = client.post("/api/v1/card-sessions", headers=bearer(keys["clinic"])).get_json()
    answer = card_answer(card, session["challenge"])
    url = f"/api/v1/card-sessions/{session['session_id']}/verification"
    assert client.post(url, json=answer, headers=bearer(keys["clinic"])).status_code == 201
    again = client.post(url, json=answer, headers=bearer(keys["clinic"]))
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "CHALLENGE_INVALID")


def test_signature_over_another_challenge_is_refused_and_audited(client, keys, card, registry):
    first = client.post("/api/v1/card-sessions", headers=bearer(keys["clinic"])).get_json()
    second = client.post("/api/v1/card-sessions", headers=bearer(keys["clinic"])).get_json()
    answer = card_answer(card, first["challenge"])
    response = client.post(
        f"/api/v1/card-sessions/{second['session_id']}/verification",
        json=answer,
        headers=bearer(keys["clinic"]),
    )
    assert (response.status_code, response.get_json()["error"]["code"]) == (
        422,
        "SIGNATURE_INVALID",
    )
    with registry.connect() as conn:
        assert verify_chain(conn).entries == 1


def test_unlinked_card_is_refused(client, keys, card, registry):
    from payer_registry.card_links import card_links

    with registry.begin() as conn:
        conn.execute(card_links.delete())
    response = present_card(client, keys["clinic"], card)
    assert (response.status_code, response.get_json()["error"]["code"]) == (422, "CARD_NOT_LINKED")


def test_consent_the_reader_does_not_offer(client, keys, card):
    response = present_card(client, keys["clinic"], card, {"surgery": True})
    assert (response.status_code, response.get_json()["error"]["code"]) == (
        403,
        "CONSENT_NOT_OFFERED",
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"certificate": "***"}, "certificate"),
        ({"method": "retina"}, "method"),
        ({"consents": {"genome": True}}, "consents"),
    ],
)
def test_bad_verification_bodies(client, keys, card, change, field):
    session = client.post("/api/v1/card-sessions", headers=bearer(keys["clinic"])).get_json()
    body = {**card_answer(card, session["challenge"]), **change}
    response = client.post(
        f"/api/v1/card-sessions/{session['session_id']}/verification",
        json=body,
        headers=bearer(keys["clinic"]),
    )
    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]["json"]


SHA256_WITH_RSA = bytes.fromhex("2a864886f70d01010b")  # 1.2.840.113549.1.1.11, DER contents
UNKNOWN_ALGORITHM = bytes.fromhex("2a864886f70d01017f")  # 1.2.840.113549.1.1.127, same length


def with_unknown_signature_algorithm(answer: dict) -> dict:
    """The card's answer with its certificate naming a signature algorithm no one knows (both in
    the signed part and outside it; same length, so the DER stays well formed)."""
    certificate = base64.b64decode(answer["certificate"])
    assert certificate.count(SHA256_WITH_RSA) == 2
    forged = certificate.replace(SHA256_WITH_RSA, UNKNOWN_ALGORITHM)
    return {**answer, "certificate": base64.b64encode(forged).decode()}


def test_an_unknown_signature_algorithm_is_refused_and_audited(client, keys, card, registry):
    session = client.post("/api/v1/card-sessions", headers=bearer(keys["clinic"])).get_json()
    url = f"/api/v1/card-sessions/{session['session_id']}/verification"
    answer = with_unknown_signature_algorithm(card_answer(card, session["challenge"]))
    response = client.post(url, json=answer, headers=bearer(keys["clinic"]))
    assert (response.status_code, response.get_json()["error"]["code"]) == (422, "CERT_UNTRUSTED")
    assert "1.2.840.113549.1.1.127" in response.get_json()["error"]["message"]
    with registry.connect() as conn:
        assert verify_chain(conn).entries == 1
    again = client.post(
        url, json=card_answer(card, session["challenge"]), headers=bearer(keys["clinic"])
    )
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "CHALLENGE_INVALID")


def test_expired_card_sessions_are_purged(environment, keys, registry):
    short = create_app(load_settings({**environment, "ELIGSIM_CHALLENGE_TTL_SECONDS": "1"}))
    client = short.test_client()
    for _ in range(3):
        client.post("/api/v1/card-sessions", headers=bearer(keys["clinic"]))
    time.sleep(1.1)
    fresh = client.post("/api/v1/card-sessions", headers=bearer(keys["clinic"])).get_json()
    with registry.connect() as conn:
        left = conn.execute(select(card_sessions.c.id)).scalars().all()
    assert left == [fresh["session_id"]]
    short.extensions["registry"].dispose()
