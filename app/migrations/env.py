"""Alembic environment: runs on the connection that ``app.database.migrate`` hands over."""

from alembic import context

import app.service.models  # noqa: F401  (registers the service's tables)
from payer_registry.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
