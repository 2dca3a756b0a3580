"""The OpenAPI document, built from the code without touching any real registry."""

from __future__ import annotations

import tempfile
from pathlib import Path

from payer_registry.settings import load_settings

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"


def openapi_document() -> dict:
    """The document the service serves, from an app on a throwaway registry."""
    from app import create_app

    with tempfile.TemporaryDirectory() as scratch:
        app = create_app(load_settings({"ELIGSIM_VAR_DIR": scratch}))
        try:
            return app.test_client().get("/api/v1/openapi.json").get_json()
        finally:
            app.extensions["registry"].dispose()
