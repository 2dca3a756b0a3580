"""The service that composes the payers' registry and the card stack.

Layers (``docs/architecture.md``): ``app.service`` holds the use cases and knows no Flask;
``app.web`` (the JSON API) and ``app.frontdesk`` (pages and reader station) are thin HTTP layers over
it; ``app.training`` holds the scenarios and the demo; ``app.client`` is the integrators' Python
client; ``app.cli`` is the ``eligsim`` command. Importing ``app`` itself loads none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from app.settings import Settings


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """The Flask application factory (``app.factory.create_app``), imported on first use so that
    ``app.client`` and the use-case layer load without Flask."""
    from app.factory import create_app as factory

    return factory(settings, **overrides)
