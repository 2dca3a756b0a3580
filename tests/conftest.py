"""Fixtures shared by every test: registries on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from app.database import migrate
from payer_registry.db import Registry

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI") == "true"


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


EACH_DATABASE = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
"""The parameters of a fixture run on each database the product supports."""


@contextmanager
def on_database(kind: str, environment: dict, prefix: str) -> Iterator[dict]:
    """``environment`` as it is (SQLite) for ``kind`` "sqlite", else on a PostgreSQL schema of its
    own named after ``prefix``, dropped afterwards."""
    if kind == "sqlite":
        yield environment
    else:
        with scratch_postgres(prefix) as url:
            yield {**environment, "DATABASE_URL": url}


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
