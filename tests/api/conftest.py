import pytest

from app import create_app
from payer_registry.access.keys import add_institution, add_payer
from payer_registry.records import PERSON_RECORD
from payer_registry.settings import load_settings
from payer_registry.writer import upsert_record
from tests.registry.conftest import BASE_RECORD

CLINIC = "1311234567"
PHARMACY = "1341234567"


@pytest.fixture
def app(tmp_path):
    settings = load_settings({"ELIGSIM_VAR_DIR": str(tmp_path)})
    app = create_app(settings, TESTING=True)
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
            "payer": add_payer(conn, "霞が関健康保険組合"),
        }


@pytest.fixture
def person(registry):
    """The sample person (06139992:12-34:5678:01, limit bracket A03, one medication)."""
    with registry.begin() as conn:
        return upsert_record(conn, PERSON_RECORD.load(BASE_RECORD))


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}
