"""The one database of the service: the payers' registry tables and the service's own tables, under
one migration history (``app/migrations``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from app.settings import Settings
from payer_registry.db import Registry

MIGRATIONS = Path(__file__).with_name("migrations")


def migrate(registry: Registry) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    with registry.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def open_registry(settings: Settings) -> Registry:
    """The database named by the settings, with its schema brought up to date."""
    registry = Registry(settings.database_url)
    migrate(registry)
    return registry
