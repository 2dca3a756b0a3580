"""Long writes never stall checks: a payer upload and an operator's import write in short
transactions; checks are answered between them, and an upload stopped in the middle goes on where
it stopped when its job runs again or the service restarts."""

import json
import threading
import time

import pytest
from sqlalchemy import select

from app.service import uploads
from app.service.accounts import authenticate
from app.service.audit import audit_log
from app.service.batches import resume_unfinished
from payer_registry import staging
from payer_registry.records import PERSON_RECORD
from payer_registry.repository import counts
from payer_registry.writer import upsert_record
from tests.api.conftest import bearer
from tests.registry.conftest import BASE_RECORD, qualification

RECORDS = 20


def numbered(n: int) -> dict:
    number = f"06139992:12-34:{1000 + n}:01"
    return BASE_RECORD | {"qualifications": [qualification(number, "2015-04-01")]}


def check(client, key, n: int) -> dict:
    body = {
        "insurer_number": "06139992",
        "symbol": "12-34",
        "number": str(1000 + n),
        "branch": "01",
        "birth_date": "1980-05-01",
        "confirmation_date": "2024-09-01",
    }
    response = client.post("/api/v1/eligibility-checks", json=body, headers=bearer(key))
    return response.get_json()


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(staging, "CHUNK_RECORDS", 3)


@pytest.fixture
def stored_upload(registry, keys):
    """An upload of ``RECORDS`` persons, stored as the API stores it, its job not run yet."""
    with registry.begin() as conn:
        payer_id = authenticate(conn, keys["payer"]).payer_id
        records = [PERSON_RECORD.load(numbered(n)) for n in range(RECORDS)]
        return uploads.store_upload(conn, payer_id, records)


def upload_entries(registry) -> list[int]:
    with registry.connect() as conn:
        found = select(audit_log.c.person_id).where(audit_log.c.action == "payer_upload")
        return list(conn.execute(found).scalars())


def status_of(client, keys, upload_id: str) -> dict:
    answer = client.get(f"/api/v1/payer/uploads/{upload_id}", headers=bearer(keys["payer"]))
    return answer.get_json()


def crash_at(monkeypatch, chunk: int) -> None:
    """The upload's writer raises at its ``chunk``-th chunk, as a dying worker would stop."""
    write, seen = uploads.write_records, []

    def failing(*args, **kwargs):
        seen.append(1)
        if len(seen) == chunk:
            raise RuntimeError("the worker died")
        return write(*args, **kwargs)

    monkeypatch.setattr(uploads, "write_records", failing)


def test_an_upload_stopped_midway_goes_on_where_it_stopped(
    client, keys, registry, stored_upload, small_chunks, monkeypatch
):
    crash_at(monkeypatch, 3)
    with pytest.raises(RuntimeError):
        uploads.process_upload(registry, stored_upload)
    status = status_of(client, keys, stored_upload)
    assert (status["status"], status["written"], status["total"]) == ("queued", 6, RECORDS)
    assert len(upload_entries(registry)) == 6
    monkeypatch.undo()

    uploads.process_upload(registry, stored_upload)  # the job's retry

    status = status_of(client, keys, stored_upload)
    assert (status["status"], status["written"], status["error"]) == ("done", RECORDS, None)
    with registry.connect() as conn:
        assert counts(conn)["persons"] == RECORDS
    entries = upload_entries(registry)
    assert len(entries) == len(set(entries)) == RECORDS


def test_a_restarted_service_resumes_an_unfinished_upload(
    app, client, keys, registry, stored_upload, small_chunks, monkeypatch
):
    crash_at(monkeypatch, 2)
    with pytest.raises(RuntimeError):
        uploads.process_upload(registry, stored_upload)
    monkeypatch.undo()

    assert resume_unfinished(app.extensions["service"]) == 1  # as a restarted process does

    deadline = time.monotonic() + 30
    while (status := status_of(client, keys, stored_upload))["status"] == "queued":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert (status["status"], status["written"]) == ("done", RECORDS)
    assert check(client, keys["clinic"], RECORDS - 1)["eligibility"]["validity"] == "valid"


def test_a_check_is_answered_while_an_import_is_writing(
    client, keys, registry, small_chunks, tmp_path
):
    """The check starts once the import's first chunk is written and is answered before the import
    goes on: the import waits for it (at most 20 s) before its next chunk. An import holding the
    database (or the audit head) across its chunks would make the check wait for it instead."""
    path = tmp_path / "persons.jsonl"
    path.write_text("".join(json.dumps(numbered(n)) + "\n" for n in range(RECORDS)))
    events: list[str] = []
    answers: list[dict] = []

    def check_now() -> None:
        answers.append(check(client, keys["clinic"], 0))
        events.append("check answered")

    def progress(written: int, total: int) -> None:
        if written == 3:
            checker = threading.Thread(target=check_now)
            checker.start()
            checker.join(20)
            events.append("import went on")

    result = uploads.import_registry_file(registry, path, progress=progress)
    events.append("import finished")

    assert result.written == RECORDS
    assert events == ["check answered", "import went on", "import finished"]
    assert answers[0]["eligibility"]["validity"] == "valid"  # a person of the first chunk


def test_an_upload_whose_records_now_conflict_is_refused_whole(client, keys, registry):
    """Two persons were registered meanwhile under two numbers that one uploaded record holds:
    the job writes none of the upload, rather than some of it."""
    both = BASE_RECORD | {
        "qualifications": [
            qualification("06139992:12-34:1000:01", "2015-04-01"),
            qualification("06139992:12-34:1001:01", "2015-04-01"),
        ]
    }
    with registry.begin() as conn:
        payer_id = authenticate(conn, keys["payer"]).payer_id
        records = [PERSON_RECORD.load(numbered(n)) for n in range(2, 6)]
        upload_id = uploads.store_upload(conn, payer_id, [*records, PERSON_RECORD.load(both)])
        for n in (0, 1):
            upsert_record(conn, PERSON_RECORD.load(numbered(n)))

    uploads.process_upload(registry, upload_id)

    status = status_of(client, keys, upload_id)
    assert (status["status"], status["written"]) == ("failed", 0)
    assert status["error"].endswith("belong to different registered persons; nothing was written")
    with registry.connect() as conn:
        assert counts(conn)["persons"] == 2
    assert upload_entries(registry) == []
