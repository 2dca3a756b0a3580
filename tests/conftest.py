"""Fixtures shared by every test: registries on SQLite and on a real PostgreSQL, and the database
the service-level suites run on (ELIGSIM_TEST_DATABASE: ``sqlite``, the default, or
``postgresql``)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from sqlalchemy import MetaData, select, text

from app.database import migrate
from payer_registry.db import Registry

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI") == "true"
TEST_DATABASES = ("sqlite", "postgresql")
TEST_DATABASE = os.environ.get("ELIGSIM_TEST_DATABASE", "sqlite")
ON_POSTGRES = TEST_DATABASE == "postgresql"


def pytest_configure(config: pytest.Config) -> None:
    if TEST_DATABASE not in TEST_DATABASES:
        raise pytest.UsageError(
            f"ELIGSIM_TEST_DATABASE={TEST_DATABASE!r}: must be one of {', '.join(TEST_DATABASES)}"
        )
    config.addinivalue_line(
        "markers",
        "sqlite: the service stays on SQLite under ELIGSIM_TEST_DATABASE=postgresql (the test "
        "is about SQLite itself: its file, its behaviour)",
    )


def require_service(name: str, reason: str) -> None:
    """Under CI a missing service fails the run; on a workstation the test is skipped with why."""
    message = f"{name} is not available: {reason}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def scratch_postgres(prefix: str) -> Iterator[str]:
    """The URL of a PostgreSQL schema of its own in the test database, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        require_service("PostgreSQL", str(error).strip())
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


EACH_DATABASE = [
    *([] if ON_POSTGRES else ["sqlite"]),
    pytest.param("postgres", marks=pytest.mark.postgres),
]
"""The parameters of a fixture run on each database the product supports (the PostgreSQL pass runs
only the PostgreSQL ones: the SQLite pass ran the others)."""


@contextmanager
def on_database(kind: str, environment: dict, prefix: str) -> Iterator[dict]:
    """``environment`` as it is (SQLite) for ``kind`` "sqlite", else on a PostgreSQL schema of its
    own named after ``prefix``, dropped afterwards."""
    if kind == "sqlite":
        yield environment
    else:
        with scratch_postgres(prefix) as url:
            yield {**environment, "DATABASE_URL": url}


@contextmanager
def on_test_database(environment: dict, prefix: str) -> Iterator[dict]:
    """``environment`` on the database ELIGSIM_TEST_DATABASE names, for what lives longer than one
    test (a module's server): on PostgreSQL a schema of its own, which no test's reset touches."""
    with on_database("postgres" if ON_POSTGRES else "sqlite", environment, prefix) as settings:
        yield settings


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL schema for the whole session (each test clears what it wrote)."""
    with scratch_postgres("eligsim_test") as url:
        yield url


@pytest.fixture
def sqlite_registry(tmp_path):
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    migrate(registry)
    yield registry
    registry.dispose()


@pytest.fixture
def pg_registry(postgres_url):
    registry = Registry(postgres_url)
    migrate(registry)
    yield registry
    from payer_registry.writer import clear_registry

    clear_registry(registry)
    registry.dispose()


@pytest.fixture(params=EACH_DATABASE)
def registry(request):
    """A fresh, empty registry on each database the product supports."""
    name = "sqlite_registry" if request.param == "sqlite" else "pg_registry"
    return request.getfixturevalue(name)


Rows = dict[str, list[dict[str, Any]]]
"""Every row of a schema, by table name."""


class SuiteSchema:
    """One PostgreSQL schema for the session's service-level tests, migrated once: migrating a fresh
    schema costs half a second a test, putting back the rows a test starts from ~15 ms."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.registry = Registry(url)
        migrate(self.registry)
        metadata = MetaData()
        with self.registry.connect() as conn:
            metadata.reflect(conn)
            self.serials = conn.execute(SERIAL_COLUMNS).all()
        self.tables = [table for table in metadata.sorted_tables if table.name != "alembic_version"]
        self.migrated = self.rows()

    def rows(self) -> Rows:
        """What the tables hold now (what the migrations insert, right after them)."""
        with self.registry.connect() as conn:
            return {
                table.name: [dict(row) for row in conn.execute(select(table)).mappings()]
                for table in self.tables
            }

    def reset(self, rows: Rows | None = None) -> dict[str, str]:
        """The settings of a service on this schema, holding ``rows`` (default: as migrated) and
        nothing else, its ids counting on from theirs as in a database that only ever held them."""
        with self.registry.begin() as conn:
            # a transaction an earlier test left open: fail, not hang
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))
            for table in reversed(self.tables):
                conn.execute(table.delete())
            for table in self.tables:
                if held := (self.migrated if rows is None else rows)[table.name]:
                    conn.execute(table.insert(), held)
            for table_name, column, sequence in self.serials:
                next_id = f'COALESCE((SELECT max("{column}") FROM "{table_name}"), 0) + 1'
                conn.execute(text(f"SELECT setval('{sequence}', {next_id}, false)"))
        return {"DATABASE_URL": self.url}


SERIAL_COLUMNS = text(
    "SELECT table_name, column_name, pg_get_serial_sequence(format('%I', table_name), column_name)"
    " AS sequence FROM information_schema.columns WHERE table_schema = current_schema()"
    " AND pg_get_serial_sequence(format('%I', table_name), column_name) IS NOT NULL"
)
"""Each column whose values a sequence numbers, with that sequence."""


@pytest.fixture(scope="session")
def suite_schema() -> Iterator[SuiteSchema | None]:
    """The session's PostgreSQL schema under ELIGSIM_TEST_DATABASE=postgresql, else None."""
    if not ON_POSTGRES:
        yield None
        return
    with scratch_postgres("eligsim_suite") as url:
        schema = SuiteSchema(url)
        yield schema
        schema.registry.dispose()


@pytest.fixture
def suite_database(request, suite_schema) -> dict[str, str]:
    """The settings that put a test's service on the database ELIGSIM_TEST_DATABASE names: none on
    SQLite (the file in the test's var directory) or for a test marked ``sqlite``, else
    DATABASE_URL on the session's schema, emptied to what the migrations leave. Every app and
    registry of one test shares it, as they share the SQLite file of its var directory."""
    if suite_schema is None or request.node.get_closest_marker("sqlite"):
        return {}
    return suite_schema.reset()
