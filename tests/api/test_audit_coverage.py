"""Every read of personal data and every refusal is audited: portal sign-ins and views, a look at a
visit, challenges that are unknown or used, consents the reader does not offer."""

from tests.api.conftest import CLINIC, PHARMACY, audit_rows, bearer, card_answer, present_card
from tests.api.test_card_visits import with_unknown_signature_algorithm
from tests.api.test_portal import portal_token


def audited(registry):
    """Every entry as (actor, action, outcome, institution, person, category), oldest first."""
    columns = ("actor", "action", "outcome", "institution_code", "person_id", "category")
    return audit_rows(registry, *columns)


def test_portal_sign_ins_and_their_refusals_are_audited(client, card, person, registry):
    session = client.post("/api/v1/portal/sessions").get_json()
    url = f"/api/v1/portal/sessions/{session['session_id']}/verification"
    answer = with_unknown_signature_algorithm(card_answer(card, session["challenge"]))
    assert client.post(url, json=answer).status_code == 422
    assert client.post(url, json=answer).status_code == 409  # the challenge is used up
    portal_token(client, card)

    assert audited(registry) == [
        ("patient", "portal_sign_in", "CERT_UNTRUSTED", None, None, None),
        ("patient", "portal_sign_in", "CHALLENGE_INVALID", None, None, None),
        ("patient", "portal_sign_in", "signed_in", None, person, None),
    ]


def test_portal_views_are_audited_but_left_out_of_the_access_log(client, card, person, registry):
    token = portal_token(client, card)
    for page in ("", "/medications", "/checkups", "/access-log"):
        assert client.get(f"/api/v1/portal/me{page}", headers=bearer(token)).status_code == 200

    assert audited(registry)[1:] == [
        ("patient", "portal_view", "shown", None, person, category)
        for category in ("eligibility", "medication", "checkup", "access_log")
    ]
    log = client.get("/api/v1/portal/me/access-log", headers=bearer(token)).get_json()["entries"]
    assert log == []


def test_a_look_at_a_visit_is_audited_and_shown_to_the_patient(
    client, keys, card, person, registry
):
    visit_id = present_card(client, keys["clinic"], card).get_json()["visit_id"]
    assert (
        client.get(f"/api/v1/visits/{visit_id}", headers=bearer(keys["clinic"])).status_code == 200
    )
    other = client.get(f"/api/v1/visits/{visit_id}", headers=bearer(keys["pharmacy"]))
    assert other.status_code == 404

    looks = [entry for entry in audited(registry) if entry[1] == "visit_view"]
    assert looks == [
        ("institution", "visit_view", "shown", CLINIC, person, None),
        ("institution", "visit_view", "NOT_FOUND", PHARMACY, None, None),
    ]
    named = [
        visit
        for action, visit in audit_rows(registry, "action", "visit_id")
        if action == "visit_view"
    ]
    assert named == [visit_id, visit_id]
    token = portal_token(client, card)
    log = client.get("/api/v1/portal/me/access-log", headers=bearer(token)).get_json()["entries"]
    assert (log[0]["institution_code"], log[0]["action"]) == (CLINIC, "visit_view")


def test_a_used_challenge_at_the_front_desk_is_audited(client, keys, card, registry):
    session = client.post("/api/v1/card-sessions", headers=bearer(keys["clinic"])).get_json()
    url = f"/api/v1/card-sessions/{session['session_id']}/verification"
    answer = {**card_answer(card, session["challenge"]), "consents": {}}
    assert client.post(url, json=answer, headers=bearer(keys["clinic"])).status_code == 201
    again = client.post(url, json=answer, headers=bearer(keys["clinic"]))
    assert again.status_code == 409

    assert audited(registry)[-1] == (
        "institution",
        "card_verification",
        "CHALLENGE_INVALID",
        CLINIC,
        None,
        None,
    )


def test_a_consent_the_reader_does_not_offer_is_audited(client, keys, card, registry):
    response = present_card(client, keys["clinic"], card, {"medication": True, "surgery": True})
    assert (response.status_code, response.get_json()["error"]["code"]) == (
        403,
        "CONSENT_NOT_OFFERED",
    )
    assert audited(registry) == [
        ("institution", "consent", "CONSENT_NOT_OFFERED", CLINIC, None, "surgery")
    ]
