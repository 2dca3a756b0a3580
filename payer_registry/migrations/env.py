"""Alembic environment: runs on the connection that ``Registry.create_schema`` hands over."""

from alembic import context

import payer_registry.access.models  # noqa: F401  (registers the access tables)
from payer_registry.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
