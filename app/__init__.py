"""The front-desk HTTP API (Flask). ``create_app`` is the application factory."""

from __future__ import annotations

from flask import Flask

from app import card_proof, docs, errors, extensions, frontdesk
from payer_registry.settings import Settings, load_settings


def create_app(settings: Settings | None = None, **overrides) -> Flask:
    """Build the service from ``settings`` (default: the environment); ``overrides`` go to Flask's
    config (tests use them)."""
    settings = settings or load_settings()
    app = Flask(__name__)
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
    extensions.register_registry(app, settings)
    extensions.register_limiter(app, settings)
    card_proof.register_trust_store(app, settings)
    extensions.register_job_runner(app, settings)
    docs.configure_docs(app)
    api = extensions.register_api(app)
    errors.register_error_handlers(app)
    register_blueprints(api)
    app.register_blueprint(frontdesk.pages)
    return app


def register_blueprints(api) -> None:
    from app import batches, card_sessions, eligibility_checks, health, payer, portal, visits
    from app.frontdesk import station

    modules = (health, card_sessions, eligibility_checks, visits, portal, batches, payer, station)
    for module in modules:
        api.register_blueprint(module.blueprint)
