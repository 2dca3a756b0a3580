"""The patient's own view: proven with their own card, shows data, consents and who looked."""

import datetime as dt

from sqlalchemy import select

from app.service.audit import verify_chain
from app.service.sessions import portal_sessions
from tests.api.conftest import bearer, card_answer, present_card
from tests.api.test_card_visits import with_unknown_signature_algorithm


def portal_token(client, card) -> str:
    session = client.post("/api/v1/portal/sessions").get_json()
    response = client.post(
        f"/api/v1/portal/sessions/{session['session_id']}/verification",
        json=card_answer(card, session["challenge"]),
    )
    assert response.status_code == 201
    return response.get_json()["token"]


def test_patient_sees_who_looked_at_what(client, keys, card):
    visit_id = present_card(client, keys["clinic"], card, {"medication": True}).get_json()[
        "visit_id"
    ]
    client.get(f"/api/v1/visits/{visit_id}/medications", headers=bearer(keys["clinic"]))
    client.get(f"/api/v1/visits/{visit_id}/checkups", headers=bearer(keys["clinic"]))

    token = portal_token(client, card)
    log = client.get("/api/v1/portal/me/access-log", headers=bearer(token)).get_json()["entries"]
    seen = [(e["institution_code"], e["action"], e["category"], e["outcome"]) for e in log]
    assert seen == [
        ("1311234567", "view", "checkup", "refused_none"),
        ("1311234567", "view", "medication", "shown"),
        ("1311234567", "consent", "specific_diseases", "declined"),
        ("1311234567", "consent", "limit_certificate", "declined"),
        ("1311234567", "consent", "checkup", "declined"),
        ("1311234567", "consent", "medication", "given"),
        ("1311234567", "card_verification", None, "valid"),
    ]


def test_patient_sees_own_eligibility_data_and_consents(client, keys, card):
    present_card(client, keys["clinic"], card, {"medication": True})
    token = portal_token(client, card)
    me = client.get("/api/v1/portal/me", headers=bearer(token)).get_json()
    assert me["eligibility"]["validity"] == "valid"
    assert me["eligibility"]["limit_certificate"]["bracket_code"] == "A03"
    assert [(c["institution_code"], c["category"]) for c in me["consents"]] == [
        ("1311234567", "medication")
    ]
    medications = client.get("/api/v1/portal/me/medications", headers=bearer(token)).get_json()
    assert medications["total"] == 1


def test_portal_needs_a_proven_card(client, keys):
    for headers in ({}, bearer("made-up"), bearer(keys["clinic"])):
        response = client.get("/api/v1/portal/me", headers=headers)
        assert (response.status_code, response.get_json()["error"]["code"]) == (401, "AUTH_INVALID")


def test_an_institution_challenge_cannot_open_the_portal(client, keys, card):
    session = client.post("/api/v1/card-sessions", headers=bearer(keys["clinic"])).get_json()
    response = client.post(
        f"/api/v1/portal/sessions/{session['session_id']}/verification",
        json=card_answer(card, session["challenge"]),
    )
    assert (response.status_code, response.get_json()["error"]["code"]) == (
        409,
        "CHALLENGE_INVALID",
    )


def test_an_unknown_signature_algorithm_is_refused_and_audited(client, card, registry):
    session = client.post("/api/v1/portal/sessions").get_json()
    url = f"/api/v1/portal/sessions/{session['session_id']}/verification"
    answer = with_unknown_signature_algorithm(card_answer(card, session["challenge"]))
    response = client.post(url, json=answer)
    assert (response.status_code, response.get_json()["error"]["code"]) == (422, "CERT_UNTRUSTED")
    with registry.connect() as conn:
        assert verify_chain(conn).entries == 1
    again = client.post(url, json=card_answer(card, session["challenge"]))
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "CHALLENGE_INVALID")


def test_expired_portal_sessions_are_purged(client, card, registry, monkeypatch):
    monkeypatch.setattr("app.service.portal.PORTAL_SESSION_TTL", dt.timedelta(0))
    stale = [portal_token(client, card) for _ in range(3)]
    monkeypatch.undo()
    fresh = portal_token(client, card)
    with registry.connect() as conn:
        assert len(conn.execute(select(portal_sessions.c.digest)).all()) == 1
    assert client.get("/api/v1/portal/me", headers=bearer(fresh)).status_code == 200
    for token in stale:
        assert client.get("/api/v1/portal/me", headers=bearer(token)).status_code == 401
