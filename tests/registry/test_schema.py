"""The migrations build exactly the schema the models describe, on every supported database."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import app.service.models  # noqa: F401  (the access tables are part of the schema)
from app.database import migrate
from payer_registry.models import Base


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
