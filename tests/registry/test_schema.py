"""The migrations build exactly the schema the models describe, on every supported database."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

import app.service.models  # noqa: F401  (the access tables are part of the schema)
from app.database import MIGRATIONS, migrate
from payer_registry.db import Registry
from payer_registry.models import Base
from tests.conftest import scratch_postgres


def test_migrations_match_the_models(registry):
    with registry.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert differences == []


def test_create_schema_is_idempotent(registry):
    migrate(registry)
    assert registry.has_schema()


def test_sqlite_runs_in_wal_mode(sqlite_registry):
    with sqlite_registry.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def _move(registry: Registry, revision: str, down: bool = False) -> None:
    with registry.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request, tmp_path):
    """The URL of a database without any table."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
    else:
        with scratch_postgres("eligsim_migration") as url:
            yield url


def test_certificate_details_migrate_rows_written_before_them(empty_database):
    """Revision 0006 keeps the rows of 0005 (their new columns empty), and undoes cleanly."""
    registry = Registry(empty_database)
    try:
        _move(registry, "0005")
        with registry.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO insurers (number, name, kind) VALUES ('06139992', '霞', 'society')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO persons (id, name, name_kana, birth_date, sex, address, "
                    "income_category) VALUES (1, '山田', 'ヤマダ', '1980-05-01', '1', '', 'general')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO qualifications (person_id, insured_number, insurer_number, "
                    "relationship, card_classification, insured_name, acquired_on) VALUES "
                    "(1, '06139992:1:2:01', '06139992', 'self', '01', '山田', '2015-04-01')"
                )
            )
        _move(registry, "head")
        with registry.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT p.post_code, q.certificate_issued_on, q.card_valid_from, "
                    "q.card_valid_until, q.acquired_on FROM persons p "
                    "JOIN qualifications q ON q.person_id = p.id"
                )
            ).one()
        assert tuple(row)[:4] == (None, None, None, None)
        assert str(row.acquired_on) == "2015-04-01"

        _move(registry, "0005", down=True)
        with registry.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("qualifications")}
            assert conn.execute(text("SELECT count(*) FROM qualifications")).scalar_one() == 1
        assert "certificate_issued_on" not in columns
    finally:
        registry.dispose()
