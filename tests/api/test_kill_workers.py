"""``kill -9`` of service workers in the middle of load loses nothing audited: every check that was
answered 200 has its committed entry, the chain verifies, and for every check whose answer never
came the client can tell by its request id whether it was audited (so served) or not."""

import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from app.database import migrate
from app.service.accounts import add_institution
from app.service.audit import AuditTrail, audit_log, verify_chain
from app.settings import load_settings
from payer_registry.db import Registry
from payer_registry.records import PERSON_RECORD
from payer_registry.writer import upsert_record
from tests.api.conftest import CLINIC, SAMPLE_CHECK, bearer
from tests.api.workers import descendants
from tests.conftest import EACH_DATABASE, on_database
from tests.live_server import eligsim_server, free_port
from tests.registry.conftest import BASE_RECORD

ELIGSIM = str(Path(sys.executable).with_name("eligsim"))
CLIENTS = 8
LOAD_SECONDS = 1.5  # before each kill, and after the last


@pytest.fixture(params=EACH_DATABASE)
def served_env(request, tmp_path, jpki_dir):
    """Settings of a service with one institution and the sample person, migrated beforehand."""
    env = {
        **os.environ,
        "ELIGSIM_VAR_DIR": str(tmp_path),
        "ELIGSIM_JPKI_DIR": str(jpki_dir),
        "ELIGSIM_RATE_LIMIT": "1000000 per minute",
        "ELIGSIM_INQUIRY_RATE_LIMIT": "1000000 per minute",
    }
    env.pop("REDIS_URL", None)
    with on_database(request.param, env, "eligsim_kill") as settings:
        yield settings


def prepare(env):
    registry = Registry(load_settings(env).database_url)
    migrate(registry)
    with registry.begin() as conn:
        key = add_institution(conn, CLINIC, "霞が関内科クリニック")
        upsert_record(conn, PERSON_RECORD.load(BASE_RECORD))
    return registry, key


class Load:
    """Clients checking as fast as they can, each request with its own id: what each got."""

    def __init__(self, url, key):
        self.url, self.key = url, key
        self.answers: dict[str, int | None] = {}  # request id -> status, None: no answer
        self.stopping = threading.Event()

    def client(self, number):
        session = requests.Session()
        sent = 0
        while not self.stopping.is_set():
            sent += 1
            request_id = f"c{number}-{sent}"
            headers = bearer(self.key) | {"X-Request-Id": request_id}
            try:
                answer = session.post(
                    f"{self.url}/api/v1/eligibility-checks",
                    json=SAMPLE_CHECK,
                    headers=headers,
                    timeout=20,
                )
            except requests.RequestException:
                self.answers[request_id] = None
                session = requests.Session()
            else:
                self.answers[request_id] = answer.status_code


def kill_a_worker(master_pid):
    workers = descendants(master_pid)
    assert workers, "gunicorn has no worker"
    os.kill(workers[0], signal.SIGKILL)


def test_workers_killed_under_load_lose_nothing_audited(served_env):
    registry, key = prepare(served_env)
    started = time.monotonic()
    with eligsim_server(ELIGSIM, served_env, free_port(), workers=2) as (url, master_pid):
        load = Load(url, key)
        with ThreadPoolExecutor(CLIENTS) as pool:
            clients = [pool.submit(load.client, n) for n in range(CLIENTS)]
            for _ in range(2):
                time.sleep(LOAD_SECONDS)
                kill_a_worker(master_pid)
            time.sleep(LOAD_SECONDS)
            load.stopping.set()
            for client in clients:
                client.result()
        unanswered = [rid for rid, status in load.answers.items() if status is None]
        told = {
            rid: requests.get(
                f"{url}/api/v1/audited-requests/{rid}", headers=bearer(key), timeout=20
            ).json()["audited"]
            for rid in unanswered
        }

    with registry.connect() as conn:
        audited = set(conn.execute(select(audit_log.c.request_id)).scalars())
        report = verify_chain(conn, AuditTrail.for_settings(load_settings(served_env)))
    registry.dispose()
    assert report.intact, report.reason
    answered = {rid for rid, status in load.answers.items() if status == 200}
    assert len(answered) > 50
    assert set(load.answers.values()) <= {200, None}  # nothing else than served or cut off
    assert answered <= audited  # every answered check was audited
    assert unanswered  # the kills cut requests off mid-way
    assert told == {rid: rid in audited for rid in unanswered}  # the lookup tells which
    assert report.entries == len(audited)  # and nothing else was logged
    assert time.monotonic() - started < 60
