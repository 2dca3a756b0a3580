import pytest

from app import create_app
from payer_registry.settings import load_settings


@pytest.fixture
def app(tmp_path):
    settings = load_settings({"ELIGSIM_VAR_DIR": str(tmp_path)})
    app = create_app(settings, TESTING=True)
    yield app
    app.extensions["registry"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()
