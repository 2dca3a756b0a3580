"""The application factory: the JSON API, its documentation, the front-desk pages and reader
station, over one ``ServiceContext``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from flask import Flask
from flask_smorest import Api
from werkzeug.middleware.proxy_fix import ProxyFix

from app.fhir import views as fhir
from app.frontdesk import pages, station
from app.settings import Settings, load_settings
from app.web import docs, errors, extensions, inputs
from app.web.api import (
    audited_requests,
    batches,
    card_sessions,
    disasters,
    eligibility_checks,
    health,
    payer,
    portal,
    prescriptions,
    visits,
)

BLUEPRINTS = (
    health,
    card_sessions,
    eligibility_checks,
    audited_requests,
    visits,
    prescriptions,
    disasters,
    portal,
    batches,
    payer,
    station,
    fhir,
)
OPENAPI_DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Build the service from ``settings`` (default: the environment); ``overrides`` go to Flask's
    config (tests use them)."""
    settings = settings or load_settings()
    app = Flask("app")
    app.config.update(
        SETTINGS=settings,
        API_TITLE="eligsim: online eligibility verification simulator",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=4 << 20,
        **overrides,
    )
    trust_proxies(app, settings.proxy_hops)
    extensions.register_service(app, settings)
    extensions.register_request_ids(app)
    extensions.register_limiter(app, settings)
    docs.configure_docs(app)
    api = extensions.register_api(app)
    errors.register_error_handlers(app)
    register_blueprints(api)
    app.register_blueprint(pages.blueprint)
    inputs.check_inputs(app)
    return app


def trust_proxies(app: Flask, hops: int) -> None:
    """Behind ``hops`` proxies (ELIGSIM_PROXY_HOPS), the client's address and scheme are the ones
    the nearest proxy forwards: the per-address rate limits then count each client, not the proxy."""
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def register_blueprints(api: Api) -> None:
    for module in BLUEPRINTS:
        api.register_blueprint(module.blueprint)


def openapi_document() -> dict[str, Any]:
    """The document the service serves, from an app on a throwaway registry."""
    with tempfile.TemporaryDirectory() as scratch:
        app = create_app(load_settings({"ELIGSIM_VAR_DIR": scratch}))
        try:
            document: dict[str, Any] = app.test_client().get("/api/v1/openapi.json").get_json()
            return document
        finally:
            app.extensions["service"].close()
