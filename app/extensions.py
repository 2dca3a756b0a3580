"""The service's shared objects, created once per app and reached through small accessors."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_smorest import Api

from app.errors import ERROR_CODES, ApiError
from app.schemas import ErrorSchema
from payer_registry.db import Registry
from payer_registry.jobs import InProcessRunner, JobRunner, QueueUnavailable, RqRunner
from payer_registry.settings import Settings


class EligsimApi(Api):
    ERROR_SCHEMA = ErrorSchema


def register_registry(app: Flask, settings: Settings) -> None:
    registry = Registry.from_settings(settings)
    registry.create_schema()
    app.extensions["registry"] = registry


def register_api(app: Flask) -> Api:
    codes = "\n".join(
        f"- `{code}` ({status}): {meaning}" for code, (status, meaning) in ERROR_CODES.items()
    )
    app.config["API_SPEC_OPTIONS"] = {
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


def _rate_limit_key() -> str:
    from app.auth import bearer_key

    key = bearer_key()
    return (
        f"key:{key.split('_')[1]}" if key and key.count("_") == 2 else f"addr:{request.remote_addr}"
    )


def register_job_runner(app: Flask, settings: Settings) -> None:
    """Background jobs on RQ workers when REDIS_URL is set; otherwise on a thread of this process."""
    if settings.redis_url:
        app.extensions["job_runner"] = RqRunner(settings.redis_url, settings.job_queue)
    else:
        app.extensions["job_runner"] = InProcessRunner(app.extensions["registry"])


def job_runner() -> JobRunner:
    return current_app.extensions["job_runner"]


def enqueue_or_refuse(jobs: list[tuple], undo: Callable[[], None]) -> None:
    """Queue every job (name, *args); when the queue is down, undo what was stored and answer 503."""
    try:
        for name, *args in jobs:
            job_runner().enqueue(name, *args)
    except QueueUnavailable:
        undo()
        raise ApiError(
            "BATCH_QUEUE_UNAVAILABLE", "background jobs cannot be queued now; retry later"
        ) from None


def registry() -> Registry:
    return current_app.extensions["registry"]
