"""The service on a real PostgreSQL: a whole card visit, a batch and the audit chain."""

import pytest

from app import create_app
from app.service.audit import verify_chain
from app.settings import load_settings
from tests.api.conftest import bearer, present_card
from tests.api.test_batches import GOOD, submit, wait_for
from tests.conftest import scratch_postgres

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(environment):
    """The app on a PostgreSQL schema of its own, dropped afterwards."""
    with scratch_postgres("eligsim_api") as url:
        app = create_app(load_settings({**environment, "DATABASE_URL": url}), TESTING=True)
        yield app
        app.extensions["registry"].dispose()


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
    assert (report.intact, report.entries) == (True, 6)  # verification, 4 choices, 1 look


def test_batch(client, keys, person):
    number = submit(client, keys["clinic"], [GOOD] * 50).get_json()["reception_number"]
    body = wait_for(client, keys["clinic"], number)
    assert (body["processed"], body["normal"]) == (50, 50)
