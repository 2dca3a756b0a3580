"""Batch pre-check: in-process without Redis, on real RQ workers with Redis, and their faults."""

import threading
import time

import pytest
import redis
from sqlalchemy import select, update

from app import create_app
from app.service.audit import audit_log
from app.service.jobs import RETRIES
from app.settings import load_settings
from payer_registry.models import Person, table_of
from payer_registry.records import PERSON_RECORD
from payer_registry.writer import upsert_record
from tests.api.conftest import BASE_RECORD, bearer
from tests.api.workers import start_worker, stop

GOOD = {
    "insurer_number": "06139992",
    "symbol": "12-34",
    "number": "5678",
    "branch": "01",
    "birth_date": "1980-05-01",
}
UNKNOWN = {**GOOD, "number": "0000"}


def wait_for(client, key, number, status="done", timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/batches/{number}", headers=bearer(key)).get_json()
        if body["status"] == status:
            return body
        time.sleep(0.05)
    counts = {key: body[key] for key in ("status", "processed", "normal", "error")}
    raise AssertionError(f"batch {number} not {status} after {timeout}s: {counts}")


def submit(client, key, inquiries, **extra):
    return client.post(
        "/api/v1/batches",
        json={"inquiries": inquiries, "confirmation_date": "2024-09-01", **extra},
        headers=bearer(key),
    )


def test_in_process_batch_answers_every_inquiry(client, keys, person):
    response = submit(
        client, keys["clinic"], [GOOD, UNKNOWN, {**GOOD, "limit_certificate_consent": True}]
    )
    assert response.status_code == 202
    body = wait_for(client, keys["clinic"], response.get_json()["reception_number"])
    assert (body["total"], body["processed"], body["normal"], body["error"]) == (3, 3, 2, 1)
    validities = [r["eligibility"]["validity"] for r in body["results"]]
    assert validities == ["valid", "not_found", "valid"]
    assert [r["eligibility"]["validity_code"] for r in body["results"]] == ["1", "4", "1"]
    assert body["results"][0]["eligibility"]["relationship_code"] == "1"
    assert "limit_certificate" not in body["results"][0]["eligibility"]
    assert body["results"][2]["eligibility"]["limit_certificate"]["bracket_code"] == "A03"


def test_another_institution_cannot_read_the_batch(client, keys, person):
    number = submit(client, keys["clinic"], [GOOD]).get_json()["reception_number"]
    response = client.get(f"/api/v1/batches/{number}", headers=bearer(keys["pharmacy"]))
    assert (response.status_code, response.get_json()["error"]["code"]) == (404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"inquiries": []}, "inquiries"),
        ({"inquiries": [{**GOOD, "insurer_number": "06139993"}]}, "inquiries"),
        ({"inquiries": [GOOD], "priority": "high"}, "priority"),
    ],
)
def test_bad_batches_are_422(client, keys, body, field):
    response = client.post("/api/v1/batches", json=body, headers=bearer(keys["clinic"]))
    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]["json"]


def test_rq_workers_answer_a_batch(rq_app, rq_environment, keys, person):
    client = rq_app.test_client()
    workers = [start_worker(rq_environment) for _ in range(2)]
    try:
        number = submit(client, keys["clinic"], [GOOD, UNKNOWN] * 600).get_json()[
            "reception_number"
        ]
        body = wait_for(client, keys["clinic"], number)
    finally:
        for process in workers:
            stop(process)
    assert (body["processed"], body["normal"], body["error"]) == (1200, 600, 600)


def test_a_killed_worker_loses_nothing(rq_app, rq_environment, redis_url, keys, person):
    client = rq_app.test_client()
    number = submit(client, keys["clinic"], [GOOD] * 3000).get_json()["reception_number"]
    first = second = start_worker(rq_environment)
    try:
        wait_for(client, keys["clinic"], number, status="running")
        stop(first)  # kill -9 the worker and its work horse while a job runs
        partial = client.get(f"/api/v1/batches/{number}", headers=bearer(keys["clinic"])).get_json()
        assert 0 < partial["processed"] < 3000
        second = start_worker(rq_environment)
        body = wait_for(client, keys["clinic"], number, timeout=90)
    finally:
        stop(first)
        stop(second)
    assert (body["processed"], body["normal"]) == (3000, 3000)
    assert all(r["eligibility"]["validity"] == "valid" for r in body["results"])
    assert retried_jobs(redis_url) == 1  # the job the kill interrupted ran again, and only it


def retried_jobs(redis_url: str) -> int:
    """How many of the queue's jobs used a retry (RQ keeps each job's retries left in its hash)."""
    connection = redis.Redis.from_url(redis_url)
    left = [connection.hget(key, "retries_left") for key in connection.scan_iter("rq:job:*")]
    return sum(1 for value in left if value is not None and int(value) < RETRIES)


def test_redis_down_refuses_batches_but_checks_still_work(environment, keys, person):
    app = create_app(
        load_settings({**environment, "REDIS_URL": "redis://127.0.0.1:1/0"}), TESTING=True
    )
    client = app.test_client()
    response = submit(client, keys["clinic"], [GOOD])
    assert (response.status_code, response.get_json()["error"]["code"]) == (
        503,
        "BATCH_QUEUE_UNAVAILABLE",
    )
    check = client.post(
        "/api/v1/eligibility-checks",
        json={**GOOD, "confirmation_date": "2024-09-01"},
        headers=bearer(keys["clinic"]),
    )
    assert check.status_code == 200


def test_a_batch_trying_many_birth_dates_for_one_number_is_refused_whole(client, keys, person):
    """Four birth dates for one insured number is a search for the birth date, not a pre-check."""
    guesses = [{**GOOD, "birth_date": f"1980-05-{day:02d}"} for day in range(1, 5)]
    response = submit(client, keys["clinic"], [UNKNOWN, *guesses])
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "BATCH_BIRTH_DATE_PROBING"
    assert error["details"]["insured_numbers"] == ["06139992:12-34:5678:01"]
    assert batch_check_entries(client.application) == 0  # nothing was answered


def test_a_few_birth_dates_per_number_and_a_whole_family_still_pass(client, keys, person):
    """Three dates for one number (a typo corrected twice) and one date for each of many branches
    (a family on one card) are ordinary pre-checks."""
    retries = [{**GOOD, "birth_date": date} for date in ("1980-05-01", "1980-01-05", "1980-05-10")]
    family = [
        {**GOOD, "branch": f"{n:02d}", "birth_date": f"19{n + 50}-04-01"} for n in range(2, 8)
    ]
    response = submit(client, keys["clinic"], retries + family)
    assert response.status_code == 202
    body = wait_for(client, keys["clinic"], response.get_json()["reception_number"])
    assert (body["processed"], body["normal"]) == (9, 1)


def batch_check_entries(app) -> int:
    audit = app.extensions["registry"]
    with audit.connect() as conn:
        rows = conn.execute(select(audit_log.c.seq).where(audit_log.c.action == "batch_check"))
        return len(rows.all())


def test_a_damaged_person_gets_an_error_line_and_the_batch_completes(
    client, keys, person, registry
):
    """A record confirmation cannot read fails its own line only (before: every retry of the job
    failed on it and the whole batch ended ``failed``)."""
    other = {**GOOD, "number": "9999", "birth_date": "1975-03-03"}
    with registry.begin() as conn:
        upsert_record(conn, PERSON_RECORD.load(sibling_record("9999", "1975-03-03")))
        persons = table_of(Person)
        conn.execute(update(persons).where(persons.c.id == person).values(income_category="??"))
    response = submit(client, keys["clinic"], [GOOD, UNKNOWN, other])
    body = wait_for(client, keys["clinic"], response.get_json()["reception_number"])
    assert (body["processed"], body["normal"], body["error"]) == (3, 1, 2)
    damaged, unknown, healthy = body["results"]
    assert damaged["eligibility"] is None
    assert damaged["error"]["code"] == "INQUIRY_FAILED"
    assert unknown["eligibility"]["validity"] == "not_found" and unknown["error"] is None
    assert healthy["eligibility"]["validity"] == "valid"
    with registry.connect() as conn:
        outcomes = conn.execute(
            select(audit_log.c.outcome).where(audit_log.c.action == "batch_check")
        ).scalars()
        assert sorted(outcomes) == ["failed", "not_found", "valid"]


def sibling_record(number: str, birth_date: str) -> dict:
    qualification = {
        **BASE_RECORD["qualifications"][0],
        "insured_number": f"06139992:12-34:{number}:01",
    }
    return {**BASE_RECORD, "birth_date": birth_date, "qualifications": [qualification]}


def test_a_batch_left_unfinished_by_a_stopped_process_is_resumed_on_start(
    environment, keys, person
):
    """Without Redis a batch runs on a thread of the process; when that process stops before the
    batch is answered, the next process to start answers it (before: it stayed queued forever)."""
    first = restarted = create_app(load_settings(environment), TESTING=True)
    stuck = threading.Event()
    first.extensions["service"].jobs.executor.submit(stuck.wait)  # its only job thread hangs
    try:
        response = submit(first.test_client(), keys["clinic"], [GOOD, UNKNOWN])
        number = response.get_json()["reception_number"]
        time.sleep(0.5)
        status = first.test_client().get(
            f"/api/v1/batches/{number}", headers=bearer(keys["clinic"])
        )
        assert status.get_json()["status"] == "queued"
        restarted = create_app(load_settings(environment), TESTING=True)  # the next process
        body = wait_for(restarted.test_client(), keys["clinic"], number, timeout=20)
        assert (body["processed"], body["normal"], body["error"]) == (2, 1, 1)
    finally:
        stuck.set()
        for app in (first, restarted):
            app.extensions["registry"].dispose()
