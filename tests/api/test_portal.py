"""The patient's own view: proven with their own card, shows data, consents and who looked."""

from tests.api.conftest import bearer, card_answer, present_card


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
