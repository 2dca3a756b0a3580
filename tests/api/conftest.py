import base64
import datetime as dt
import os
import uuid

import pytest
import redis
from click.testing import CliRunner
from sqlalchemy import select

from app import create_app
from app.cli import main
from app.service.accounts import add_institution, add_payer
from app.service.audit import audit_log, verify_chain
from app.settings import load_settings
from card_reader.authority import Authority
from card_reader.issuance import auth_certificate, issue_card
from card_reader.jpki import JpkiClient
from card_reader.surface import SurfaceAttributes
from card_reader.transport import InProcessTransport
from card_reader.virtual_card import VirtualCard
from payer_registry.card_links import link_card
from payer_registry.records import PERSON_RECORD
from payer_registry.writer import upsert_record
from tests.conftest import EACH_DATABASE, on_database, require_service
from tests.registry.conftest import BASE_RECORD

SAMPLE_NUMBER = "06139992:12-34:5678:01"
TEST_REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CLINIC = "1311234567"
PHARMACY = "1341234567"
OTHER_CLINIC = "1319900011"
SAMPLE_CHECK = {
    "insurer_number": "06139992",
    "symbol": "12-34",
    "number": "5678",
    "branch": "01",
    "birth_date": "1980-05-01",
}
"""A check by the numbers of the sample person's insurance card."""


@pytest.fixture(scope="session")
def jpki_dir(tmp_path_factory):
    """One simulated authority for the session: generating its RSA keys is the slow part."""
    return tmp_path_factory.mktemp("jpki")


@pytest.fixture
def environment(tmp_path, jpki_dir, suite_database):
    """The service's settings: its var directory and, on PostgreSQL, its database."""
    return {"ELIGSIM_VAR_DIR": str(tmp_path), "ELIGSIM_JPKI_DIR": str(jpki_dir), **suite_database}


def environment_on_each_database(prefix: str):
    """An ``environment`` fixture for a test module: the service's settings on each database it
    supports (PostgreSQL on a schema named after ``prefix``)."""

    @pytest.fixture(params=EACH_DATABASE)
    def environment(request, environment):
        with on_database(request.param, environment, prefix) as settings:
            yield settings

    return environment


@pytest.fixture
def app(environment):
    app = create_app(load_settings(environment), TESTING=True)
    yield app
    app.extensions["registry"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def registry(app):
    return app.extensions["registry"]


@pytest.fixture
def keys(registry):
    """API keys: a clinic, a pharmacy and a payer."""
    with registry.begin() as conn:
        return {
            "clinic": add_institution(conn, CLINIC, "霞が関内科クリニック"),
            "pharmacy": add_institution(conn, PHARMACY, "かすみ薬局"),
            "payer": add_payer(conn, "霞が関健康保険組合", insurers=["06139992"]),
        }


@pytest.fixture
def person(registry):
    """The sample person (06139992:12-34:5678:01, limit bracket A03, one medication)."""
    with registry.begin() as conn:
        return upsert_record(conn, PERSON_RECORD.load(BASE_RECORD))


@pytest.fixture
def other_clinic(registry):
    """The key of a second clinic."""
    with registry.begin() as conn:
        return add_institution(conn, OTHER_CLINIC, "日比谷クリニック")


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def audit_rows(registry, *columns: str) -> list[tuple]:
    """The audit log's ``columns`` of every entry, oldest first, once its chain verifies."""
    with registry.connect() as conn:
        assert verify_chain(conn).intact
        selected = select(*(audit_log.c[name] for name in columns)).order_by(audit_log.c.seq)
        return [tuple(row) for row in conn.execute(selected)]


@pytest.fixture
def card(app, registry, person):
    """A virtual card for the sample person, PIN 1234, linked in the registry."""
    authority = Authority(app.config["SETTINGS"].jpki_dir)
    holder = SurfaceAttributes("山田 太郎", "東京都千代田区霞が関1-2-2", dt.date(1980, 5, 1), "1")
    state = issue_card(authority, holder, pin="1234")
    certificate = auth_certificate(state)
    with registry.begin() as conn:
        link_card(
            conn, SAMPLE_NUMBER, certificate.issuer.rfc4514_string(), certificate.serial_number
        )
    return VirtualCard(state)


def card_answer(card: VirtualCard, challenge_b64: str, pin: str = "1234") -> dict:
    """What a PIN-mode reader sends: the certificate and the card's signature over the challenge."""
    client = JpkiClient(InProcessTransport(card))
    client.select_application()
    certificate = client.read_auth_certificate()
    client.verify_auth_pin(pin)
    signature = client.sign_challenge(base64.b64decode(challenge_b64))
    return {
        "certificate": base64.b64encode(certificate).decode(),
        "signature": base64.b64encode(signature).decode(),
    }


def present_card(client, key: str, card: VirtualCard, consents: dict | None = None, **extra):
    """A whole PIN-mode verification at the front desk; returns the verification response."""
    session = client.post("/api/v1/card-sessions", headers=bearer(key)).get_json()
    body = {**card_answer(card, session["challenge"]), "consents": consents or {}, **extra}
    return client.post(
        f"/api/v1/card-sessions/{session['session_id']}/verification",
        json=body,
        headers=bearer(key),
    )


def visit_of(client, key: str, card: VirtualCard, **consents) -> str:
    """The id of the visit a whole PIN-mode verification with ``consents`` opens."""
    return present_card(client, key, card, consents).get_json()["visit_id"]


@pytest.fixture
def redis_url():
    connection = redis.Redis.from_url(TEST_REDIS, socket_connect_timeout=2)
    try:
        connection.flushdb()
    except redis.RedisError as error:
        require_service("Redis", str(error))
    yield TEST_REDIS
    connection.flushdb()


@pytest.fixture
def rq_environment(environment, redis_url):
    """A queue of this test's own, so no stray worker of an earlier run can take its jobs."""
    return {**environment, "REDIS_URL": redis_url, "ELIGSIM_JOB_QUEUE": f"test-{uuid.uuid4().hex}"}


@pytest.fixture
def rq_app(rq_environment):
    app = create_app(load_settings(rq_environment), TESTING=True)
    yield app
    app.extensions["registry"].dispose()


@pytest.fixture
def run(environment, monkeypatch):
    """The ``eligsim`` command in process, on this test's environment."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)
