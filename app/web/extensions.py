"""The web layer's shared objects, created once per app and reached through small accessors."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from flask_smorest import Api
from limits import RateLimitItem

from app.service.accounts import Principal
from app.service.audit import REQUEST_ID, REQUEST_ID_FORMAT
from app.service.batches import resume_unfinished
from app.service.context import ServiceContext
from app.service.jobs import InProcessRunner
from app.settings import Settings, SettingsError
from app.web.errors import ERROR_CODES
from app.web.rate_limits import RequestLimits, Rule, parsed
from app.web.schemas import ErrorSchema
from payer_registry.db import RegistryUnavailable

View = TypeVar("View", bound=Callable[..., Any])
INQUIRY_COUNT = "inquiry_count"  # what a view that answers inquiries by numbers costs
PORTAL_SIGN_IN = "portal_sign_in"  # a view that opens a patient's portal session
DISASTER_SEARCH = "disaster_search"  # a view that searches a person without a card (災害時)


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


REQUEST_ID_HEADER = "X-Request-Id"


def register_request_ids(app: Flask) -> None:
    """Every answer carries ``X-Request-Id``: the client's own when well formed (1 to 64 letters,
    digits, ``.``, ``_``, ``:``, ``-``, starting with a letter or digit), else a new one. The audit
    entries the request causes store it. Registered first, so that even a refusal carries it."""
    app.before_request(_take_request_id)
    app.after_request(_send_request_id)
    app.teardown_request(_forget_request_id)


def new_request_id() -> str:
    """32 random hex digits (as many random bits as a UUID's, at a fraction of the cost)."""
    return os.urandom(16).hex()


def _take_request_id() -> None:
    sent = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = sent if REQUEST_ID_FORMAT.fullmatch(sent) else new_request_id()
    REQUEST_ID.set(g.request_id)


def _send_request_id(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.get("request_id") or new_request_id()
    return response


def _forget_request_id(_error: BaseException | None) -> None:
    REQUEST_ID.set(None)


def register_api(app: Flask) -> Api:
    codes = "\n".join(
        f"- `{code}` ({status}): {meaning}" for code, (status, meaning) in ERROR_CODES.items()
    )
    spec_options: dict[str, Any] = {
        "info": {
            "description": (
                "Front-desk API of the online eligibility verification simulator.\n\n"
                "Every answer carries `X-Request-Id`: the client's own when it sends a well-formed "
                "one (1 to 64 letters, digits, `.`, `_`, `:`, `-`), else a new one; "
                "`GET /api/v1/audited-requests/{request_id}` tells whether a request was audited.\n\n"
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
    address; disaster searches per account, apart from the rest. Counted in Redis when REDIS_URL is
    set, so every worker shares them (each process leases units of a counter at a time: most
    requests need no round trip, the others one for all their limits); in the process's memory
    when it is not or while Redis does not answer, so then each worker counts alone. Only a
    refusal (429) says when to retry (``Retry-After``): no X-RateLimit headers."""
    RequestLimits(
        [
            Rule(_checked("ELIGSIM_RATE_LIMIT", settings.rate_limit), _rate_limit_key),
            Rule(
                _checked("ELIGSIM_INQUIRY_RATE_LIMIT", settings.inquiry_rate_limit),
                _rate_limit_key,
                applies=lambda view: hasattr(view, INQUIRY_COUNT),
                cost=_inquiry_cost,
                scope="inquiries",
                message="the key's inquiry limit is used up (a batch costs one per line)",
            ),
            Rule(
                _checked("ELIGSIM_PORTAL_RATE_LIMIT", settings.portal_rate_limit),
                _client_address,
                applies=lambda view: hasattr(view, PORTAL_SIGN_IN),
                scope="portal-sign-in",
                message="too many portal sign-ins from this address; retry later",
            ),
            Rule(
                _checked("ELIGSIM_DISASTER_SEARCH_RATE_LIMIT", settings.disaster_search_rate_limit),
                _rate_limit_key,
                applies=lambda view: hasattr(view, DISASTER_SEARCH),
                scope="disaster-search",
                message="too many disaster searches from this account; retry later",
            ),
        ],
        settings.redis_url,
    ).init_app(app)


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


def disaster_search(view: View) -> View:
    """Mark a view that searches a person without a card: limited per account, tightly and apart
    from the key's other limits."""
    setattr(view, DISASTER_SEARCH, True)
    return view


def _checked(name: str, limit: str) -> list[RateLimitItem]:
    """A limit the limiter can read: a misspelt one stops the service from starting."""
    try:
        return parsed(limit)
    except ValueError:
        raise SettingsError(
            f"{name}={limit!r} is not a rate limit (e.g. '1200 per minute')"
        ) from None


def _inquiry_cost(view: Callable[..., Any]) -> int:
    """What a request to a view marked by ``counts_inquiries`` costs of the inquiry limit."""
    return max(1, getattr(view, INQUIRY_COUNT)())


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
