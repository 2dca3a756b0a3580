"""What the ``eligsim`` commands share."""

from __future__ import annotations

from app.database import open_registry as _open
from app.settings import load_settings
from payer_registry.db import Registry


def open_registry() -> Registry:
    """The database named by the environment's settings, with its schema brought up to date."""
    return _open(load_settings())
