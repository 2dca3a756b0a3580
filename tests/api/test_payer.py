"""Payer updates through the API: same validation as the import command, direct or as a job."""

import copy
import time

from payer_registry.models import table_of
from tests.api.conftest import bearer
from tests.registry.conftest import BASE_RECORD, with_details

NUMBER = "06139992:12-34:5678:01"


def record(**changes):
    return {**copy.deepcopy(BASE_RECORD), **changes}


def check(client, key, number="5678"):
    body = {
        "insurer_number": "06139992",
        "symbol": "12-34",
        "number": number,
        "branch": "01",
        "birth_date": "1980-05-01",
        "confirmation_date": "2024-09-01",
    }
    return client.post("/api/v1/eligibility-checks", json=body, headers=bearer(key)).get_json()[
        "eligibility"
    ]


def test_payer_registers_then_ends_a_qualification(client, keys):
    response = client.post(
        "/api/v1/payer/records", json={"records": [record()]}, headers=bearer(keys["payer"])
    )
    assert response.get_json() == {"written": 1}
    assert check(client, keys["clinic"])["validity"] == "valid"

    ended = client.post(
        "/api/v1/payer/qualification-losses",
        json={"insured_number": NUMBER, "lost_on": "2024-08-01", "loss_reason": "03"},
        headers=bearer(keys["payer"]),
    )
    assert ended.status_code == 200
    assert check(client, keys["clinic"])["validity"] == "invalid"


def test_payer_sends_the_certificate_details(client, keys):
    detailed = with_details(BASE_RECORD)
    detailed["qualifications"][0]["card_classification"] = "07"
    response = client.post(
        "/api/v1/payer/records", json={"records": [detailed]}, headers=bearer(keys["payer"])
    )
    assert response.get_json() == {"written": 1}
    eligibility = check(client, keys["clinic"])
    assert (eligibility["post_code"], eligibility["card_classification"]) == ("100-0013", "07")
    assert eligibility["certificate_issued_on"] == "2015-04-01"

    bad = with_details(BASE_RECORD) | {"post_code": "100-00130"}
    response = client.post(
        "/api/v1/payer/records", json={"records": [bad]}, headers=bearer(keys["payer"])
    )
    assert response.status_code == 422
    assert set(response.get_json()["error"]["details"]["records"]["0"]) == {"post_code"}


def test_invalid_records_are_refused_whole_with_every_error(client, keys):
    bad = record(
        sex="9", qualifications=[{**BASE_RECORD["qualifications"][0], "insured_number": "1:2:3:4"}]
    )
    response = client.post(
        "/api/v1/payer/records", json={"records": [record(), bad]}, headers=bearer(keys["payer"])
    )
    assert response.status_code == 422
    details = response.get_json()["error"]["details"]["records"]
    assert set(details) == {"1"}
    assert {"sex", "qualifications.0.insured_number"} <= set(details["1"])
    assert check(client, keys["clinic"])["validity"] == "not_found"


def test_institution_keys_cannot_write(client, keys):
    response = client.post(
        "/api/v1/payer/records", json={"records": [record()]}, headers=bearer(keys["clinic"])
    )
    assert (response.status_code, response.get_json()["error"]["code"]) == (403, "AUTH_WRONG_KIND")


def test_large_upload_runs_as_a_job(client, keys):
    records = [
        record(
            qualifications=[
                {**BASE_RECORD["qualifications"][0], "insured_number": f"06139992:12-34:{n}:01"}
            ]
        )
        for n in range(1000, 1600)
    ]
    response = client.post(
        "/api/v1/payer/uploads", json={"records": records}, headers=bearer(keys["payer"])
    )
    assert response.status_code == 202
    upload = f"/api/v1/payer/uploads/{response.get_json()['upload_id']}"
    deadline = time.monotonic() + 60
    while (status := client.get(upload, headers=bearer(keys["payer"])).get_json())[
        "status"
    ] == "queued":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert (status["status"], status["written"]) == ("done", 600)
    assert check(client, keys["clinic"], number="1599")["validity"] == "valid"


def test_loss_of_an_unknown_or_malformed_number(client, keys):
    def lose(number):
        body = {"insured_number": number, "lost_on": "2024-08-01", "loss_reason": "03"}
        return client.post(
            "/api/v1/payer/qualification-losses", json=body, headers=bearer(keys["payer"])
        )

    assert (lose("06139992:1:1:01").status_code, lose("0613:1:1:1").status_code) == (404, 422)


def test_upload_with_the_queue_down_is_refused_and_keeps_nothing(environment, keys):
    from app import create_app
    from app.service.models import PayerUpload
    from app.settings import load_settings

    app = create_app(load_settings({**environment, "REDIS_URL": "redis://127.0.0.1:1/0"}))
    response = app.test_client().post(
        "/api/v1/payer/uploads", json={"records": [record()]}, headers=bearer(keys["payer"])
    )
    assert (response.status_code, response.get_json()["error"]["code"]) == (
        503,
        "BATCH_QUEUE_UNAVAILABLE",
    )
    with app.extensions["registry"].connect() as conn:
        stored = conn.execute(table_of(PayerUpload).select()).one()
    assert (stored.records, stored.error is not None) == ("", True)
