"""The web layer's shared objects, created once per app and reached through small accessors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, request
from flask_limiter import Limit, Limiter
from flask_smorest import Api
from limits import parse_many

from app.service.accounts import Principal
from app.service.batches import resume_unfinished
from app.service.context import ServiceContext
from app.service.jobs import InProcessRunner
from app.settings import Settings, SettingsError
from app.web.errors import ERROR_CODES
from app.web.schemas import ErrorSchema
from payer_registry.db import RegistryUnavailable

View = TypeVar("View", bound=Callable[..., Any])
INQUIRY_COUNT = "inquiry_count"  # what a view that answers inquiries by numbers costs
PORTAL_SIGN_IN = "portal_sign_in"  # a view that opens a patient's portal session


class EligsimApi(Api):
    ERROR_SCHEMA = ErrorSchema


def register_service(app: Flask, settings: Settings) -> None:
    """The use cases' context: database (migrated), trust store, job runner. Without Redis, batches
    run on a thread of the process, so those a stopped process left unfinished are resumed here
    (every worker may do it: answering skips what is answered)."""
    context = ServiceContext.open(settings)
    app.extensions["service"] = context
    app.extensions["registry"] = context.registry
    if isinstance(context.jobs, InProcessRunner):
        resume_unfinished(context)


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
    """Rate limits per verified account (per client address without a valid key): requests per
    route; inquiries by numbers, shared by single checks and batch lines; portal sign-ins per
    address. Counted in Redis when REDIS_URL is set, so every worker shares them; in the process's
    memory when it is not or while Redis does not answer, so then each worker counts alone."""
    Limiter(
        key_func=_rate_limit_key,
        app=app,
        default_limits=[
            _checked("ELIGSIM_RATE_LIMIT", settings.rate_limit),
            Limit(
                _checked("ELIGSIM_INQUIRY_RATE_LIMIT", settings.inquiry_rate_limit),
                scope="inquiries",
                shared=True,
                cost=_inquiry_cost,
                exempt_when=lambda: _view_mark(INQUIRY_COUNT) is None,
                error_message="the key's inquiry limit is used up (a batch costs one per line)",
            ),
            Limit(
                _checked("ELIGSIM_PORTAL_RATE_LIMIT", settings.portal_rate_limit),
                key_function=_client_address,
                scope="portal-sign-in",
                shared=True,
                exempt_when=lambda: _view_mark(PORTAL_SIGN_IN) is None,
                error_message="too many portal sign-ins from this address; retry later",
            ),
        ],
        storage_uri=settings.redis_url or "memory://",
        in_memory_fallback_enabled=True,
        swallow_errors=True,
        headers_enabled=True,
    )


def counts_inquiries(count: Callable[[], int]) -> Callable[[View], View]:
    """Mark a view that answers inquiries by numbers: each request costs ``count()`` units of the
    key's inquiry limit, so a batch buys no more answers than as many single checks would."""

    def mark(view: View) -> View:
        setattr(view, INQUIRY_COUNT, count)
        return view

    return mark


def portal_sign_in(view: View) -> View:
    """Mark a view that signs a patient in to the portal: limited per client address, whatever key
    the request carries, so that guessing at sign-ins cannot be spread over made-up keys."""
    setattr(view, PORTAL_SIGN_IN, True)
    return view


def _checked(name: str, limit: str) -> str:
    """A limit the limiter can read: with errors swallowed, a misspelt one would limit nothing."""
    try:
        parse_many(limit)
    except ValueError:
        raise SettingsError(
            f"{name}={limit!r} is not a rate limit (e.g. '1200 per minute')"
        ) from None
    return limit


def _view_mark(name: str) -> Any:
    """What the request's view was marked with (``None``: not marked); marks survive the
    decorators above them, which copy the view's attributes."""
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, name, None)


def _inquiry_cost() -> int:
    count = _view_mark(INQUIRY_COUNT)
    return max(1, count()) if count else 1


def bearer_key() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    return key.strip() if scheme.lower() == "bearer" and key.strip() else None


def _rate_limit_key() -> str:
    """Whom the request's limits count against: the account its key verifiably belongs to, else the
    client's address. Only a verified key names an account: keyed on what a key merely claims
    (its prefix), forged keys would spend another account's quota, and made-up ones would each get
    a fresh quota and so escape the address's limit."""
    key = bearer_key()
    principal = _verified_principal(key) if key else None
    if principal is None:
        return _client_address()
    account = principal.institution_code if principal.kind == "institution" else principal.payer_id
    return f"account:{principal.kind}:{account}"


def _verified_principal(key: str) -> Principal | None:
    """The key's owner, through the authentication's own cached lookup; unknown while the registry
    is down (the view then answers 503 itself)."""
    from app.web.auth import known_principal  # (auth imports this module)

    try:
        return known_principal(key)
    except RegistryUnavailable:
        return None


def _client_address() -> str:
    return f"addr:{request.remote_addr}"
