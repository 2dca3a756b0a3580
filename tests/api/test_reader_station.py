"""The reader station behind the front-desk and patient pages (Flask test client)."""

import json
from dataclasses import replace

import pytest

from app.service.accounts import add_reader_key
from card_reader.card_file import load_card, save_card
from card_reader.errors import NoPcscService
from card_reader.face_reader import FaceReader
from tests.api.conftest import CLINIC, bearer

STATION = "/frontdesk/api"


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


def visit(client, **body):
    return client.post(f"{STATION}/visits", json={"reader": "scenario:valid", **body})


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
    checked = client.post(f"{STATION}/pin-checks", json={"reader": "scenario:valid", "pin": "1234"})
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
    unknown = client.post(f"{STATION}/pin-checks", json={"reader": "../etc/passwd", "pin": "1234"})
    assert (unknown.status_code, error_of(unknown)["code"]) == (404, "NO_READER")


def test_another_institutions_visit_is_not_the_stations(client, station, card, keys):
    from tests.api.conftest import present_card

    theirs = present_card(client, keys["pharmacy"], card, {"medication": True}).get_json()
    shown = client.get(f"{STATION}/visits/{theirs['visit_id']}/medications")
    assert (shown.status_code, error_of(shown)["code"]) == (404, "NOT_FOUND")


def test_the_patient_opens_the_portal_with_their_card(client, card_path):
    opened = client.post(
        f"{STATION}/portal-sessions", json={"reader": "scenario:valid", "pin": "1234"}
    )
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
    checked = client.post(f"{STATION}/eligibility-checks", json=body | {"birth_date": "1980-05-01"})
    assert checked.get_json()["eligibility"]["validity"] == "valid"
    as_card = client.post(f"{STATION}/pin-checks", json={"reader": "scenario:lost", "pin": "1234"})
    assert error_of(as_card)["code"] == "NO_READER"


@pytest.mark.parametrize("address", ["192.0.2.10", "2001:db8::1", "", "unix:/run/eligsim.sock"])
def test_the_station_answers_only_this_machine(client, address):
    response = client.get("/frontdesk/api/station", environ_base={"REMOTE_ADDR": address})
    error = response.get_json()["error"]
    assert (response.status_code, error["code"]) == (403, "STATION_LOCAL_ONLY")
