"""One seeded scenario var directory per session (card keys are the slow part), copied for each test
so PIN counters, visits and consents never leak from one test into another."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from app import create_app
from app.database import migrate
from app.service.accounts import add_institution
from app.service.consent import CATEGORIES
from app.settings import load_settings
from app.training.scenario_cards import issue_scenario_cards
from app.training.scenarios import Scenario, scenarios, seed_scenarios
from card_reader.card_file import load_card
from card_reader.virtual_card import VirtualCard
from payer_registry.db import Registry
from payer_registry.eligibility import today_in_japan
from tests.conftest import Rows, SuiteSchema

CLINIC = "1311234567"
SCENARIOS = {s.slug: s for s in scenarios(today_in_japan())}


def settings_for(var_dir, jpki_dir, database: dict[str, str]):
    return load_settings(
        {"ELIGSIM_VAR_DIR": str(var_dir), "ELIGSIM_JPKI_DIR": str(jpki_dir), **database}
    )


@pytest.fixture(scope="session")
def jpki_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("jpki")


@dataclass(frozen=True)
class Seeded:
    """Every scenario person and card, as ``eligsim registry seed --scenarios`` leaves them: the var
    directory, and on PostgreSQL the rows of the suite's schema (on SQLite they are in the var
    directory's file)."""

    var_dir: Path
    rows: Rows | None


@pytest.fixture(scope="session")
def seeded(tmp_path_factory, jpki_dir, suite_schema: SuiteSchema | None) -> Seeded:
    var_dir = tmp_path_factory.mktemp("scenario-var")
    settings = settings_for(var_dir, jpki_dir, suite_schema.reset() if suite_schema else {})
    registry = Registry(settings.database_url)
    migrate(registry)
    defined = seed_scenarios(registry, today_in_japan())
    registry.dispose()
    issue_scenario_cards(settings, defined)
    return Seeded(var_dir, suite_schema.rows() if suite_schema else None)


@pytest.fixture
def var_dir(seeded, tmp_path):
    copy = tmp_path / "var"
    shutil.copytree(seeded.var_dir, copy)
    return copy


@pytest.fixture
def database(seeded, suite_schema: SuiteSchema | None) -> dict[str, str]:
    """The settings of this test's copy of the seeded database (on SQLite: none, the copied var
    directory holds it)."""
    return suite_schema.reset(seeded.rows) if suite_schema else {}


@pytest.fixture
def app(var_dir, jpki_dir, database):
    app = create_app(settings_for(var_dir, jpki_dir, database), TESTING=True)
    yield app
    app.extensions["registry"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def clinic_key(app) -> str:
    """A clinic whose reader offers every consent category (clinical and surgery included)."""
    with app.extensions["registry"].begin() as conn:
        return add_institution(conn, CLINIC, "研修クリニック", offered=CATEGORIES)


@pytest.fixture
def cards(var_dir):
    """Scenario cards by file name, loaded in memory (``old=True``: the renewed scenario's old card)."""

    def card(scenario: Scenario, old: bool = False) -> VirtualCard:
        path = scenario.old_card_file if old else scenario.card_file
        return VirtualCard(load_card(var_dir / str(path)))

    return card
