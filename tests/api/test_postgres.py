"""The service on a real PostgreSQL: a whole card visit, a batch and the audit chain."""

import uuid

import psycopg
import pytest

from app import create_app
from payer_registry.access.audit import verify_chain
from payer_registry.settings import load_settings
from tests.api.conftest import bearer, present_card
from tests.api.test_batches import GOOD, submit, wait_for
from tests.conftest import POSTGRES_URL, require_service

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(environment):
    """The app on a PostgreSQL schema of its own, dropped afterwards."""
    schema = f"eligsim_api_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        require_service("PostgreSQL", str(error).strip())
    admin.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    app = create_app(load_settings({**environment, "DATABASE_URL": url}), TESTING=True)
    yield app
    app.extensions["registry"].dispose()
    admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    admin.close()


def test_card_visit_consent_and_records(client, keys, card, registry):
    assert registry.dialect == "postgresql"
    visit = present_card(client, keys["clinic"], card, {"medication": True}).get_json()
    assert visit["eligibility"]["validity"] == "valid"
    records = client.get(
        f"/api/v1/visits/{visit['visit_id']}/medications", headers=bearer(keys["clinic"])
    )
    assert records.get_json()["total"] == 1
    with registry.connect() as conn:
        report = verify_chain(conn)
    assert (report.intact, report.entries) == (True, 3)


def test_batch(client, keys, person):
    number = submit(client, keys["clinic"], [GOOD] * 50).get_json()["reception_number"]
    body = wait_for(client, keys["clinic"], number)
    assert (body["processed"], body["normal"]) == (50, 50)
