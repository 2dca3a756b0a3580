"""Checks by number hand their audit entries to the process's group commit: concurrent checks share
transactions yet make one intact chain with one entry per check, each answered only once its entry
is committed; a failed transaction is answered 503 and leaves nothing; every answer carries a
request id by which the client can ask whether its request was audited."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from app.service import audit
from app.service.audit import audit_log, verify_chain
from tests.api.conftest import SAMPLE_CHECK, bearer, environment_on_each_database

environment = environment_on_each_database("eligsim_group")


def check(client, key, request_id=None):
    headers = bearer(key) | ({"X-Request-Id": request_id} if request_id else {})
    return client.post("/api/v1/eligibility-checks", json=SAMPLE_CHECK, headers=headers)


def entries(registry):
    with registry.connect() as conn:
        return conn.execute(select(audit_log).order_by(audit_log.c.seq)).all()


def test_concurrent_checks_make_one_intact_chain_with_one_entry_per_check(
    app, registry, keys, person, monkeypatch
):
    """The first transaction is held up, so the checks arriving meanwhile are committed together."""
    write, held = audit._write, threading.Event()

    def slow_first(conn, trail, batch):
        if not held.is_set():
            held.set()
            threading.Event().wait(0.3)
        return write(conn, trail, batch)

    monkeypatch.setattr(audit, "_write", slow_first)

    def one(number):
        return check(app.test_client(), keys["clinic"], f"check-{number}")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(40)))

    assert [answer.status_code for answer in answers] == [200] * 40
    assert {answer.headers["X-Request-Id"] for answer in answers} == {
        f"check-{n}" for n in range(40)
    }
    logged = entries(registry)
    assert sorted(entry.request_id for entry in logged) == sorted(f"check-{n}" for n in range(40))
    assert {entry.action for entry in logged} == {"eligibility_check"}
    assert len({entry.at for entry in logged}) < 40  # some transactions held several entries
    with registry.connect() as conn:
        report = verify_chain(conn)
    assert (report.intact, report.entries) == (True, 40)


def test_groups_smaller_than_the_queue_still_answer_every_check_once(
    app, registry, keys, person, monkeypatch
):
    """With groups of at most 3, most requests wait behind several groups: each is still answered
    once its own entry is committed, and only then."""
    monkeypatch.setattr(audit, "GROUP_AT_MOST", 3)
    write, held = audit._write, threading.Event()

    def slow_first(conn, trail, batch):
        assert len(batch) <= 3
        if not held.is_set():
            held.set()
            threading.Event().wait(0.3)
        return write(conn, trail, batch)

    monkeypatch.setattr(audit, "_write", slow_first)
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda n: check(app.test_client(), keys["clinic"], f"c-{n}"), range(30))
        )

    assert [answer.status_code for answer in answers] == [200] * 30
    assert sorted(entry.request_id for entry in entries(registry)) == sorted(
        f"c-{n}" for n in range(30)
    )
    with registry.connect() as conn:
        assert verify_chain(conn).intact


def test_an_entry_whose_transaction_fails_is_not_acknowledged(
    client, registry, keys, person, monkeypatch
):
    write = audit._write

    def failing(conn, trail, batch):
        raise OperationalError("INSERT INTO audit_log", {}, Exception("disk I/O error"))

    monkeypatch.setattr(audit, "_write", failing)
    refused = check(client, keys["clinic"], "lost-one")
    assert refused.status_code == 503
    assert refused.get_json() == {
        "error": {
            "code": "REGISTRY_UNAVAILABLE",
            "message": "the registry database is unavailable",
            "details": {},
        }
    }
    assert "eligibility" not in refused.get_json()
    assert entries(registry) == []

    monkeypatch.setattr(audit, "_write", write)  # the writer thread lived through the failure
    assert check(client, keys["clinic"], "next-one").status_code == 200
    assert [entry.request_id for entry in entries(registry)] == ["next-one"]


def test_a_client_can_ask_whether_its_request_was_audited(client, keys, person):
    answered = check(client, keys["clinic"])
    request_id = answered.headers["X-Request-Id"]
    assert len(request_id) == 32  # minted: the client sent none

    asked = client.get(f"/api/v1/audited-requests/{request_id}", headers=bearer(keys["clinic"]))
    assert asked.status_code == 200
    body = asked.get_json()
    assert (body["audited"], [e["action"] for e in body["entries"]]) == (
        True,
        ["eligibility_check"],
    )
    assert body["entries"][0]["outcome"] == answered.get_json()["eligibility"]["validity"]

    never = client.get("/api/v1/audited-requests/never-sent", headers=bearer(keys["clinic"]))
    assert never.get_json() == {"request_id": "never-sent", "audited": False, "entries": []}
    odd = client.get(f"/api/v1/audited-requests/{'x' * 65}", headers=bearer(keys["clinic"]))
    assert (odd.status_code, odd.get_json()["audited"]) == (200, False)  # could not have been one
    other = client.get(f"/api/v1/audited-requests/{request_id}", headers=bearer(keys["pharmacy"]))
    assert other.get_json()["audited"] is False  # another institution's request tells nothing


@pytest.mark.parametrize("sent", ["", "has space", "x" * 65, "-leading-dash", "日本語"])
def test_a_malformed_request_id_is_replaced(client, keys, person, sent):
    answered = check(client, keys["clinic"], sent or None)
    assert answered.headers["X-Request-Id"] not in (sent, "")


def test_errors_carry_a_request_id_too(client):
    refused = client.post(
        "/api/v1/eligibility-checks", json=SAMPLE_CHECK, headers={"X-Request-Id": "r-1"}
    )
    assert (refused.status_code, refused.headers["X-Request-Id"]) == (401, "r-1")


def test_an_edited_request_id_breaks_the_chain(client, registry, keys, person):
    check(client, keys["clinic"], "first")
    check(client, keys["clinic"], "second")
    with registry.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 1).values(request_id="other"))
    with registry.connect() as conn:
        report = verify_chain(conn)
    assert (report.intact, report.first_broken) == (False, 1)
