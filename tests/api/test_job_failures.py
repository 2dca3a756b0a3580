"""A job that fails on every retry ends its batch or upload as ``failed``, never ``queued`` forever:
on real RQ workers (the failure callback) and on the in-process runner."""

import pytest
from sqlalchemy import update

from app.service.batches import BatchRangeJob
from app.service.jobs import run_with_retries
from app.service.models import PayerUpload
from payer_registry.models import table_of
from tests.api.conftest import BASE_RECORD, bearer
from tests.api.test_batches import GOOD, submit
from tests.api.workers import start_worker

POISON = "{not json"  # what a job cannot read, however often it retries


def poison_batch(registry) -> None:
    """The database refuses to store any batch answer, as a full disk would, on every retry (one
    unreadable line no longer fails a batch: it gets an error result)."""
    with registry.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse_answers BEFORE UPDATE ON batch_items "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )


def poison_upload(registry, upload_id: str) -> None:
    uploads = table_of(PayerUpload)
    with registry.begin() as conn:
        conn.execute(update(uploads).where(uploads.c.id == upload_id).values(records=POISON))


def burst(rq_environment) -> None:
    """A worker that works the queue (every retry included) until it is empty, then stops."""
    worker = start_worker(rq_environment, "--burst")
    assert worker.wait(timeout=120) == 0


@pytest.mark.sqlite  # poison_batch's trigger is SQLite's
def test_rq_batch_failing_every_retry_ends_failed(rq_app, rq_environment, keys, person):
    client = rq_app.test_client()
    number = submit(client, keys["clinic"], [GOOD]).get_json()["reception_number"]
    poison_batch(rq_app.extensions["registry"])
    burst(rq_environment)
    body = client.get(f"/api/v1/batches/{number}", headers=bearer(keys["clinic"])).get_json()
    assert (body["status"], body["processed"]) == ("failed", 0)


def test_rq_upload_failing_every_retry_ends_failed(rq_app, rq_environment, keys):
    client = rq_app.test_client()
    response = client.post(
        "/api/v1/payer/uploads", json={"records": [BASE_RECORD]}, headers=bearer(keys["payer"])
    )
    upload = f"/api/v1/payer/uploads/{response.get_json()['upload_id']}"
    poison_upload(rq_app.extensions["registry"], response.get_json()["upload_id"])
    burst(rq_environment)
    status = client.get(upload, headers=bearer(keys["payer"])).get_json()
    assert (status["status"], status["written"]) == ("failed", 0)
    assert "nothing was changed" in status["error"]


@pytest.mark.sqlite  # poison_batch's trigger is SQLite's
def test_in_process_batch_failing_every_retry_ends_failed(rq_app, keys, person):
    """The in-process runner's retries and give-up step, on a batch whose job cannot succeed."""
    client = rq_app.test_client()
    number = submit(client, keys["clinic"], [GOOD]).get_json()["reception_number"]
    registry = rq_app.extensions["registry"]
    poison_batch(registry)
    run_with_retries(registry, BatchRangeJob(number, 0, 1))
    body = client.get(f"/api/v1/batches/{number}", headers=bearer(keys["clinic"])).get_json()
    assert body["status"] == "failed"
