"""Inputs that once answered 500 (or were silently taken), sent as an attacker would: each is now a
4xx in the one error shape, and nothing is spent or written on the way."""

import copy
import json
import socket

import pytest
from click.testing import CliRunner

from app import create_app
from app.cli import main
from app.service.accounts import add_institution
from app.settings import load_settings
from tests.api.conftest import CLINIC, SAMPLE_CHECK, bearer, card_answer, present_card
from tests.api.test_demo import ELIGSIM
from tests.api.test_demo import environment as service_environment
from tests.conftest import on_test_database, scratch_postgres
from tests.live_server import eligsim_serve, free_port
from tests.registry.conftest import BASE_RECORD

CHECK = "/api/v1/eligibility-checks"


def refused(response, status: int, code: str) -> dict:
    """The response is ``status`` with ``code`` in the one error shape; returns its details."""
    body = response.get_json()
    assert (response.status_code, body["error"]["code"]) == (status, code), body
    assert set(body["error"]) == {"code", "message", "details"}
    details: dict = body["error"]["details"]
    return details


def post_json_text(client, url: str, text: str, key: str | None = None):
    headers = bearer(key) if key else {}
    return client.post(url, data=text, content_type="application/json", headers=headers)


def test_json_nested_100000_deep_is_a_bad_request_even_without_a_key(client, keys):
    deep = "[" * 100_000 + "]" * 100_000
    refused(post_json_text(client, CHECK, deep), 400, "BAD_REQUEST")
    payer_body = '{"records": [' + deep + "]}"
    response = post_json_text(client, "/api/v1/payer/records", payer_body, keys["payer"])
    assert refused(response, 400, "BAD_REQUEST") == {"json": ["nested more than 32 levels deep"]}


def test_an_integer_of_5000_digits_is_a_bad_request(client, keys):
    body = json.dumps(SAMPLE_CHECK)[:-1] + ', "staff_id": ' + "9" * 5000 + "}"
    details = refused(post_json_text(client, CHECK, body, keys["clinic"]), 400, "BAD_REQUEST")
    assert details == {"json": ["an integer of more than 20 digits"]}


def test_a_lone_surrogate_is_refused_before_the_challenge_is_spent(client, keys, card):
    session = client.post("/api/v1/card-sessions", headers=bearer(keys["clinic"])).get_json()
    url = f"/api/v1/card-sessions/{session['session_id']}/verification"
    answer = card_answer(card, session["challenge"])
    poisoned = json.dumps({**answer, "staff_id": "受付\ud800"})  # json.dumps escapes it: \ud800
    refused(post_json_text(client, url, poisoned, keys["clinic"]), 400, "BAD_REQUEST")

    honest = client.post(url, json=answer, headers=bearer(keys["clinic"]))
    assert honest.status_code == 201, honest.get_json()


@pytest.mark.parametrize(
    "insurer_number",
    [
        pytest.param("²1130012", id="superscript"),  # str.isdigit() is true, int() fails
        pytest.param("０１１３００１2", id="full-width-passing-the-check-digit"),
    ],
)
def test_only_ascii_digits_make_an_insurer_number(client, keys, insurer_number):
    body = {**SAMPLE_CHECK, "insurer_number": insurer_number}
    response = client.post(CHECK, json=body, headers=bearer(keys["clinic"]))
    assert set(refused(response, 422, "VALIDATION_FAILED")["json"]) == {"insurer_number"}


def test_a_trailing_newline_is_not_part_of_a_card_number(client, keys, person):
    body = {**SAMPLE_CHECK, "number": "5678\n"}
    response = client.post(CHECK, json=body, headers=bearer(keys["clinic"]))
    assert set(refused(response, 422, "VALIDATION_FAILED")["json"]) == {"number"}


def test_a_payer_cannot_register_a_number_with_a_trailing_newline(client, keys, person):
    twin = copy.deepcopy(BASE_RECORD)
    twin["qualifications"][0]["insured_number"] += "\n"
    response = client.post(
        "/api/v1/payer/records", json={"records": [twin]}, headers=bearer(keys["payer"])
    )
    details = refused(response, 422, "VALIDATION_FAILED")
    assert set(details["records"]["0"]) == {"qualifications.0.insured_number"}


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("insurer_number=06139992&number=5678", "application/x-www-form-urlencoded"),
        (json.dumps(SAMPLE_CHECK), "text/plain"),
    ],
)
def test_a_body_that_is_not_json_is_unsupported_media_type(client, keys, data, content_type):
    response = client.post(
        CHECK, data=data, content_type=content_type, headers=bearer(keys["clinic"])
    )
    refused(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_unknown_query_parameters_are_refused_by_name(client, keys, card):
    visit = present_card(client, keys["clinic"], card, {"medication": True}).get_json()
    visit_url = f"/api/v1/visits/{visit['visit_id']}"
    for url in (f"{visit_url}/medications?page=1&pagesize=500", f"{visit_url}?pagesize=500"):
        response = client.get(url, headers=bearer(keys["clinic"]))
        assert refused(response, 422, "VALIDATION_FAILED") == {
            "query": {"pagesize": ["Unknown field."]}
        }


def test_a_payer_cannot_poison_a_person_with_a_birth_date_of_9999(client, keys, person):
    poisoned = {**copy.deepcopy(BASE_RECORD), "birth_date": "9999-12-31"}
    response = client.post(
        "/api/v1/payer/records", json={"records": [poisoned]}, headers=bearer(keys["payer"])
    )
    details = refused(response, 422, "VALIDATION_FAILED")
    assert details["records"]["0"] == {"birth_date": "must be between 1900-01-01 and today"}

    checked = client.post(CHECK, json=SAMPLE_CHECK, headers=bearer(keys["clinic"]))
    assert checked.get_json()["eligibility"]["validity"] == "valid"


def test_a_qualification_cannot_be_ended_in_the_year_9999(client, keys, person):
    loss = {
        "insured_number": "06139992:12-34:5678:01",
        "lost_on": "9999-12-31",
        "loss_reason": "03",
    }
    response = client.post(
        "/api/v1/payer/qualification-losses", json=loss, headers=bearer(keys["payer"])
    )
    assert set(refused(response, 422, "VALIDATION_FAILED")["json"]) == {"lost_on"}


def test_an_upload_above_the_usual_body_limit_still_reaches_the_payer_endpoint(client, keys):
    padding = "x" * (5 << 20)  # over the 4 MiB of other endpoints, under the uploads' 64 MiB
    response = client.post(
        "/api/v1/payer/uploads",
        json={"records": [{"name": padding}]},
        headers=bearer(keys["payer"]),
    )
    assert response.status_code not in (413, 500), response.get_json()


@pytest.mark.postgres
def test_nul_characters_never_reach_postgresql(environment):
    with scratch_postgres("eligsim_nul") as url:
        app = create_app(load_settings({**environment, "DATABASE_URL": url}))
        try:
            with app.extensions["registry"].begin() as conn:
                key = add_institution(conn, CLINIC, "霞が関内科クリニック")
            client = app.test_client()
            response = client.get("/api/v1/visits/%00", headers=bearer(key))
            refused(response, 400, "BAD_REQUEST")
            body = {**SAMPLE_CHECK, "staff_id": "受付\x00"}
            refused(client.post(CHECK, json=body, headers=bearer(key)), 400, "BAD_REQUEST")
        finally:
            app.extensions["registry"].dispose()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ELIGSIM_CONSENT_TTL_HOURS", "inf"),
        ("ELIGSIM_CONSENT_TTL_HOURS", "nan"),
        ("ELIGSIM_BATCH_RESULT_TTL_HOURS", "1e308"),
        ("ELIGSIM_CHALLENGE_TTL_SECONDS", "99999999999"),
    ],
)
def test_lifetimes_must_be_finite_and_sane(tmp_path, name, value):
    env = {"ELIGSIM_VAR_DIR": str(tmp_path), name: value}
    result = CliRunner().invoke(main, ["registry", "stats"], env=env)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {name} must be a number above 0 and at most")
    assert len(result.output.splitlines()) == 1


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> int:
    """``eligsim serve`` (gunicorn) on a free loopback port; yields the port."""
    var, port = tmp_path_factory.mktemp("serve-var"), free_port()
    with (
        on_test_database(service_environment(var), "eligsim_served") as env,
        eligsim_serve(ELIGSIM, env, port),
    ):
        yield port


def raw_exchange(port: int, request: bytes) -> tuple[int, str, dict]:
    """Send bytes as they are (no client library would), read to the end: status, type, body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers["Content-Type"], json.loads(body)


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        pytest.param(
            b"GET /api/v1/" + b"a" * 5000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            400,
            "BAD_REQUEST",
            id="request-line-too-long",
        ),
        pytest.param(
            b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + b"".join(b"X-Header-%d: 1\r\n" % n for n in range(200))
            + b"\r\n",
            431,
            "REQUEST_HEADER_FIELDS_TOO_LARGE",
            id="200-headers",
        ),
        pytest.param(b"NOT HTTP AT ALL\r\n\r\n", 400, "BAD_REQUEST", id="not-http"),
    ],
)
def test_requests_gunicorn_refuses_itself_come_in_the_error_shape(
    served, request_bytes, status, code
):
    answered, content_type, body = raw_exchange(served, request_bytes)
    assert (answered, content_type) == (status, "application/json")
    assert body["error"]["code"] == code
    assert set(body["error"]) == {"code", "message", "details"}
