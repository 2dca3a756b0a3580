"""The web layer's shared objects, created once per app and reached through small accessors."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_smorest import Api

from app.service.context import ServiceContext
from app.settings import Settings
from app.web.errors import ERROR_CODES
from app.web.schemas import ErrorSchema


class EligsimApi(Api):
    ERROR_SCHEMA = ErrorSchema


def register_service(app: Flask, settings: Settings) -> None:
    """The use cases' context: database (migrated), trust store, job runner."""
    context = ServiceContext.open(settings)
    app.extensions["service"] = context
    app.extensions["registry"] = context.registry


def service() -> ServiceContext:
    context: ServiceContext = current_app.extensions["service"]
    return context


def register_api(app: Flask) -> Api:
    codes = "\n".join(
        f"- `{code}` ({status}): {meaning}" for code, (status, meaning) in ERROR_CODES.items()
    )
    spec_options: dict[str, Any] = {
        "info": {
            "description": (
                "Front-desk API of the online eligibility verification simulator.\n\n"
                'Every error has one shape: `{"error": {"code", "message", "details"}}`. '
                f"Stable codes:\n\n{codes}"
            )
        },
        "security": [{"bearerAuth": []}],
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
    }
    app.config["API_SPEC_OPTIONS"] = spec_options
    return EligsimApi(app)


def register_limiter(app: Flask, settings: Settings) -> None:
    """A rate limit per API key (per address without one): Redis storage when REDIS_URL is set, and
    memory when it is not or when Redis stops answering."""
    Limiter(
        key_func=_rate_limit_key,
        app=app,
        default_limits=[settings.rate_limit],
        storage_uri=settings.redis_url or "memory://",
        in_memory_fallback_enabled=True,
        swallow_errors=True,
        headers_enabled=True,
    )


def bearer_key() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    return key.strip() if scheme.lower() == "bearer" and key.strip() else None


def _rate_limit_key() -> str:
    key = bearer_key()
    return (
        f"key:{key.split('_')[1]}" if key and key.count("_") == 2 else f"addr:{request.remote_addr}"
    )
