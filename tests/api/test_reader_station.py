"""The reader station behind the front-desk and patient pages (Flask test client)."""

import json
import re
from dataclasses import replace

import pytest

from app.frontdesk.station import TOKEN_HEADER
from app.service.accounts import add_reader_key
from card_reader.card_file import load_card, save_card
from card_reader.errors import NoPcscService
from card_reader.face_reader import FaceReader
from tests.api.conftest import CLINIC, bearer

STATION = "/frontdesk/api"
TOKEN_TAG = re.compile(r'<meta name="station-token" content="([^"]*)">')


@pytest.fixture
def var_dir(app):
    return app.config["SETTINGS"].var_dir


@pytest.fixture
def station(var_dir, keys):
    """The clinic's key where ``eligsim demo setup`` leaves the demo institution's."""
    (var_dir / "demo").mkdir()
    (var_dir / "demo" / "api-key").write_text(keys["clinic"] + "\n")
    return keys["clinic"]


@pytest.fixture
def card_path(var_dir, card):
    """The sample person's card as a scenario of the library's manifest."""
    path = var_dir / "scenarios" / "cards" / "valid.card"
    save_card(path, card.state)
    entry = {
        "slug": "valid",
        "title_ja": "有効 3割",
        "title_en": "Valid, 30%",
        "card": "scenarios/cards/valid.card",
        "pin": "1234",
        "insured_number": "06139992:12-34:5678:01",
        "method_hint": "card",
        "expected": {"validity": "valid"},
        "next_step_ja": "",
        "next_step_en": "",
    }
    (var_dir / "scenarios" / "scenarios.json").write_text(json.dumps([entry]))
    return path


def set_tries(path, tries: int) -> None:
    state = load_card(path)
    save_card(path, replace(state, auth_pin=replace(state.auth_pin, tries_left=tries)))


def page_token(client, path: str = "/", **request) -> str:
    """The station token the page at ``path`` embeds for its calls."""
    return TOKEN_TAG.search(client.get(path, **request).get_data(as_text=True)).group(1)


def post(client, path: str, body: dict, **request):
    """A station call as the service's own page makes it: with the token of a page it loaded."""
    headers = {TOKEN_HEADER: page_token(client), **request.pop("headers", {})}
    return client.post(f"{STATION}{path}", json=body, headers=headers, **request)


def visit(client, headers: dict | None = None, **body):
    return post(client, "/visits", {"reader": "scenario:valid", **body}, headers=headers or {})


def error_of(response) -> dict:
    return response.get_json()["error"]


def test_the_station_lists_its_institution_and_readers(client, station, card_path, monkeypatch):
    monkeypatch.setattr("card_reader.pcsc.list_readers", lambda: ["Virtual PCD 00 00"])
    answer = client.get(f"{STATION}/station").get_json()
    assert answer["institution"]["code"] == CLINIC
    assert answer["institution"]["offered"][:2] == ["medication", "checkup"]
    readers = {r["id"]: r for r in answer["readers"]}
    assert readers["scenario:valid"]["title_en"] == "Valid, 30%"
    assert readers["scenario:valid"]["pin_tries_left"] == 3
    assert readers["pcsc:Virtual PCD 00 00"]["kind"] == "pcsc"
    assert str(card_path) not in json.dumps(answer)
    assert any("eligsim demo setup" in note for note in answer["notes"])


def test_without_pcscd_there_are_no_real_readers_and_a_note(client, monkeypatch):
    def no_service():
        raise NoPcscService()

    monkeypatch.setattr("card_reader.pcsc.list_readers", no_service)
    answer = client.get(f"{STATION}/station").get_json()
    assert answer["institution"] is None and answer["readers"] == []
    assert any("pcscd is not running" in note for note in answer["notes"])


def test_a_visit_opens_with_the_consents_and_shows_their_records(client, station, card_path):
    opened = visit(client, pin="1234", consents={"medication": True})
    assert opened.status_code == 201
    result = opened.get_json()
    assert (result["method"], result["eligibility"]["validity"]) == ("pin", "valid")
    medications = client.get(f"{STATION}/visits/{result['visit_id']}/medications")
    assert medications.get_json()["total"] == 1
    checkups = client.get(f"{STATION}/visits/{result['visit_id']}/checkups")
    assert (checkups.status_code, error_of(checkups)["code"]) == (403, "CONSENT_REQUIRED")


def test_a_wrong_pin_says_the_tries_left_and_the_right_one_resets_them(client, station, card_path):
    wrong = visit(client, pin="9999")
    assert (wrong.status_code, error_of(wrong)["code"]) == (422, "WRONG_PIN")
    assert error_of(wrong)["details"]["tries_left"] == 2
    checked = post(client, "/pin-checks", {"reader": "scenario:valid", "pin": "1234"})
    assert checked.get_json() == {"tries_left": 3}


def test_the_last_try_needs_force_and_a_locked_pin_is_refused(client, station, card_path):
    set_tries(card_path, 1)
    last = visit(client, pin="1234")
    assert (last.status_code, error_of(last)["code"]) == (409, "PIN_LAST_TRY")
    assert visit(client, pin="1234", force=True).status_code == 201
    set_tries(card_path, 0)
    locked = visit(client, pin="1234")
    assert (locked.status_code, error_of(locked)["code"]) == (422, "PIN_LOCKED")


def test_face_mode_needs_no_pin(client, station, card_path, registry, var_dir):
    reader = FaceReader.load_or_create(var_dir)
    with registry.begin() as conn:
        add_reader_key(conn, CLINIC, "受付1", reader.public_key_pem())
    opened = visit(client, method="face")
    assert (opened.status_code, opened.get_json()["method"]) == (201, "face")


def test_pin_mode_needs_a_four_digit_pin(client, station, card_path):
    for body in ({}, {"pin": "12"}):
        refused = visit(client, **body)
        assert (refused.status_code, error_of(refused)["code"]) == (422, "VALIDATION_FAILED")


def test_unknown_readers_and_a_station_without_key_are_clear_errors(client, card_path, keys):
    unset = visit(client, pin="1234")
    assert (unset.status_code, error_of(unset)["code"]) == (503, "STATION_NOT_READY")
    assert "eligsim demo setup" in error_of(unset)["message"]
    unknown = post(client, "/pin-checks", {"reader": "../etc/passwd", "pin": "1234"})
    assert (unknown.status_code, error_of(unknown)["code"]) == (404, "NO_READER")


def test_another_institutions_visit_is_not_the_stations(client, station, card, keys):
    from tests.api.conftest import present_card

    theirs = present_card(client, keys["pharmacy"], card, {"medication": True}).get_json()
    shown = client.get(f"{STATION}/visits/{theirs['visit_id']}/medications")
    assert (shown.status_code, error_of(shown)["code"]) == (404, "NOT_FOUND")


def test_the_station_records_a_prescription_only_for_its_own_visits_and_with_the_token(
    client, station, card_path, card, keys
):
    from tests.api.conftest import present_card
    from tests.api.test_prescriptions import prescription

    ours = visit(client, pin="1234").get_json()["visit_id"]
    recorded = post(client, "/prescriptions", prescription(ours))
    assert (recorded.status_code, recorded.get_json()["institution_code"]) == (201, CLINIC)
    tokenless = client.post(f"{STATION}/prescriptions", json=prescription(ours))
    assert (tokenless.status_code, error_of(tokenless)["code"]) == (403, "STATION_TOKEN_INVALID")
    theirs = present_card(client, keys["pharmacy"], card, {"medication": True}).get_json()
    refused = post(client, "/prescriptions", prescription(theirs["visit_id"]))
    assert (refused.status_code, error_of(refused)["code"]) == (404, "NOT_FOUND")


def test_the_patient_opens_the_portal_with_their_card(client, card_path):
    opened = post(client, "/portal-sessions", {"reader": "scenario:valid", "pin": "1234"})
    assert opened.status_code == 201
    me = client.get("/api/v1/portal/me", headers=bearer(opened.get_json()["token"]))
    assert me.get_json()["eligibility"]["validity"] == "valid"


@pytest.mark.parametrize(
    ("query", "limit"),
    [
        ("bracket=A03&medical_cost=1000000", 87_430),
        ("bracket=A03&medical_cost=1000000&many_times=true", 44_400),
        ("bracket=A01&medical_cost=100000", 252_600),
        ("bracket=A04&medical_cost=5000000", 57_600),
    ],
)
def test_the_monthly_limit_uses_the_registrys_formula(client, query, limit):
    answer = client.get(f"{STATION}/monthly-limit?{query}").get_json()
    assert answer["monthly_limit"] == limit


def test_the_outpatient_limit_of_the_elderly_brackets(client):
    answer = client.get(f"{STATION}/monthly-limit?bracket=B04&medical_cost=0").get_json()
    assert (answer["label"], answer["monthly_limit"], answer["outpatient_limit"]) == (
        "一般",
        57_600,
        18_000,
    )
    unknown = client.get(f"{STATION}/monthly-limit?bracket=Z99&medical_cost=0")
    assert error_of(unknown)["code"] == "VALIDATION_FAILED"


@pytest.mark.parametrize("path", ["/", "/patient"])
def test_the_pages_load_nothing_from_elsewhere(client, path):
    page = client.get(path).get_data(as_text=True)
    assert "<html lang=" in page
    assert "http://" not in page and "https://" not in page and "//cdn" not in page


def test_number_scenarios_are_checked_by_numbers(client, station, var_dir, person):
    entry = {
        "slug": "lost",
        "title_ja": "資格喪失",
        "title_en": "Lost",
        "card": "scenarios/cards/lost.card",
        "insured_number": "06139992:12-34:5678:01",
        "birth_date": "1980-05-01",
        "method_hint": "numbers",
    }
    (var_dir / "scenarios").mkdir()
    (var_dir / "scenarios" / "scenarios.json").write_text(json.dumps([entry]))
    reader = client.get(f"{STATION}/station").get_json()["readers"][0]
    assert (reader["id"], reader["kind"]) == ("scenario:lost", "numbers")
    assert reader["scenario"]["insured_number"] == entry["insured_number"]
    body = {"insurer_number": "06139992", "symbol": "12-34", "number": "5678", "branch": "01"}
    checked = post(client, "/eligibility-checks", body | {"birth_date": "1980-05-01"})
    assert checked.get_json()["eligibility"]["validity"] == "valid"
    as_card = post(client, "/pin-checks", {"reader": "scenario:lost", "pin": "1234"})
    assert error_of(as_card)["code"] == "NO_READER"


@pytest.mark.parametrize("address", ["192.0.2.10", "2001:db8::1", "", "unix:/run/eligsim.sock"])
def test_the_station_answers_only_this_machine(client, address):
    response = client.get("/frontdesk/api/station", environ_base={"REMOTE_ADDR": address})
    error = response.get_json()["error"]
    assert (response.status_code, error["code"]) == (403, "STATION_LOCAL_ONLY")


# -- a web page of another site cannot drive the station (DNS rebinding, cross-origin calls) --------

REBOUND = {"Host": "evil.example"}  # a page whose DNS name now resolves to 127.0.0.1, same port


@pytest.fixture
def face_reader(registry, station, var_dir):
    """The station's face reader, registered: a face-mode visit needs no PIN."""
    reader = FaceReader.load_or_create(var_dir)
    with registry.begin() as conn:
        add_reader_key(conn, CLINIC, "受付1", reader.public_key_pem())
    return reader


def test_a_rebound_dns_name_neither_gets_a_token_nor_runs_a_visit(client, face_reader, card_path):
    assert page_token(client, headers=REBOUND) == ""
    looked = client.get(f"{STATION}/station", headers=REBOUND)
    assert (looked.status_code, error_of(looked)["code"]) == (403, "STATION_FORBIDDEN_ORIGIN")
    attack = visit(client, method="face", consents={"medication": True}, headers=REBOUND)
    assert (attack.status_code, error_of(attack)["code"]) == (403, "STATION_FORBIDDEN_ORIGIN")
    assert "http://127.0.0.1:80/" in error_of(attack)["message"]


def test_a_rebound_dns_name_cannot_read_a_visits_records(client, face_reader, card_path):
    opened = visit(client, method="face", consents={"medication": True}).get_json()
    medications = f"{STATION}/visits/{opened['visit_id']}/medications"
    assert client.get(medications).status_code == 200
    stolen = client.get(medications, headers=REBOUND)
    assert (stolen.status_code, error_of(stolen)["code"]) == (403, "STATION_FORBIDDEN_ORIGIN")


@pytest.mark.parametrize(
    "host",
    ["evil.example:80", "127.0.0.1:8000", "localhost:81", "0.0.0.0", "localhost.evil.example", ""],
)
def test_the_host_must_be_a_loopback_name_on_the_services_port(client, host):
    answer = client.get(f"{STATION}/station", headers={"Host": host})
    assert (answer.status_code, error_of(answer)["code"]) == (403, "STATION_FORBIDDEN_ORIGIN")


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST:80", "127.0.0.1", "127.1.2.3:80", "[::1]"]
)
def test_every_loopback_name_of_this_machine_is_accepted(client, host):
    assert client.get(f"{STATION}/station", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "null",
        "https://localhost",
        "http://localhost:8000",
        "http://127.0.0.1",
    ],
)
def test_a_call_from_another_origin_is_refused_even_with_a_token(
    client, station, card_path, origin
):
    attack = visit(client, pin="1234", headers={"Origin": origin})
    assert (attack.status_code, error_of(attack)["code"]) == (403, "STATION_FORBIDDEN_ORIGIN")


def test_the_pages_own_origin_is_accepted(client, station, card_path):
    assert visit(client, pin="1234", headers={"Origin": "http://localhost"}).status_code == 201


@pytest.mark.parametrize(
    "token",
    [None, "", "guess", "forged.0000", ".", "a" * 5000, "é.é"],
    ids=["none", "empty", "guess", "forged", "dot", "long", "non-ascii"],
)
def test_a_state_changing_call_without_the_pages_token_is_refused(
    client, station, card_path, token
):
    headers = {} if token is None else {TOKEN_HEADER: token}
    for path in ("/visits", "/pin-checks", "/portal-sessions", "/eligibility-checks"):
        refused = client.post(
            f"{STATION}{path}", json={"reader": "scenario:valid", "pin": "1234"}, headers=headers
        )
        assert (refused.status_code, error_of(refused)["code"]) == (403, "STATION_TOKEN_INVALID")


def test_a_new_token_key_voids_the_tokens_of_open_pages(client, station, card_path, var_dir):
    token = page_token(client)
    (var_dir / "station" / "page-token-key").unlink()  # a new key voids every open page
    refused = client.post(
        f"{STATION}/pin-checks",
        json={"reader": "scenario:valid", "pin": "1234"},
        headers={TOKEN_HEADER: token},
    )
    assert (refused.status_code, error_of(refused)["code"]) == (403, "STATION_TOKEN_INVALID")
    assert (
        post(client, "/pin-checks", {"reader": "scenario:valid", "pin": "1234"}).status_code == 200
    )


def test_each_page_load_gets_its_own_token(client):
    tokens = {page_token(client), page_token(client), page_token(client, "/patient")}
    assert len(tokens) == 3 and "" not in tokens


@pytest.mark.parametrize("address", ["::ffff:127.0.0.1", "::1", "127.0.0.53"])
def test_loopback_in_any_spelling_is_this_machine(client, station, card_path, address):
    """Under a ``[::]`` bind an IPv4 browser on this machine arrives as ``::ffff:127.0.0.1``."""
    request = {"environ_base": {"REMOTE_ADDR": address}}
    assert client.get(f"{STATION}/station", **request).status_code == 200
    assert page_token(client, **request) != ""
    assert (
        post(
            client, "/pin-checks", {"reader": "scenario:valid", "pin": "1234"}, **request
        ).status_code
        == 200
    )


@pytest.mark.parametrize("address", ["::ffff:192.0.2.10", "::ffff:10.0.0.1"])
def test_a_mapped_address_of_another_machine_is_not_loopback(client, address):
    response = client.get(f"{STATION}/station", environ_base={"REMOTE_ADDR": address})
    assert (response.status_code, error_of(response)["code"]) == (403, "STATION_LOCAL_ONLY")
    assert page_token(client, environ_base={"REMOTE_ADDR": address}) == ""


@pytest.mark.parametrize("path", ["/", "/patient"])
def test_the_pages_allow_no_framing_inline_script_or_foreign_connection(client, path):
    headers = client.get(path).headers
    policy = headers["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ):
        assert directive in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/", "/patient"])
def test_the_pages_have_no_inline_script_or_style(client, path):
    """What the policy would block: a <script> without src, a <style>, a style or on* attribute."""
    page = client.get(path).get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", page)
