"""The API's documentation page (Swagger UI), served with its assets from a PyPI package: offline."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, send_from_directory
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/api/v1/docs/assets/"
assets = Blueprint("docs_assets", __name__)


@assets.route(f"{ASSETS}<path:filename>")
def asset(filename: str) -> Response:
    return send_from_directory(swagger_ui_path, filename, max_age=86400)


def configure_docs(app: Flask) -> None:
    """Swagger UI at /api/v1/docs, loading nothing from outside the service."""
    app.config.update(OPENAPI_SWAGGER_UI_PATH="docs", OPENAPI_SWAGGER_UI_URL=ASSETS)
    app.register_blueprint(assets)
