"""Bearer API keys: institutions for the front-desk endpoints, payers for theirs."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g

from app.service.accounts import Principal, authenticate
from app.service.errors import ServiceError
from app.web.errors import ApiError
from app.web.extensions import bearer_key, service

View = TypeVar("View", bound=Callable[..., Any])


def authenticated(kind: str) -> Callable[[View], View]:
    """Require a valid key of ``kind`` ("institution" or "payer"); the principal goes to ``g``."""

    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            g.principal = current_principal(kind)
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


def institution_code() -> str:
    """The code of the institution whose key authenticated this request."""
    code: str = g.principal.institution_code
    return code


def current_principal(kind: str) -> Principal:
    key = bearer_key()
    if key is None:
        raise ApiError("AUTH_REQUIRED", "send an API key as 'Authorization: Bearer KEY'")
    principal = known_principal(key)
    if principal is None:
        raise ServiceError("AUTH_INVALID", "the API key is not valid")
    if principal.kind != kind:
        raise ApiError("AUTH_WRONG_KIND", f"this endpoint takes an {kind} key")
    return principal


_KNOWN: dict[str, tuple[Principal | None, float]] = {}
KNOWN_FOR = 10.0  # seconds a key's owner is remembered by this process
KNOWN_AT_MOST = 4096


def known_principal(key: str) -> Principal | None:
    """The key's owner, looked up in the registry at most every few seconds per process."""
    now = time.monotonic()
    cached = _KNOWN.get(key)
    if cached and cached[1] > now:
        return cached[0]
    with service().registry.read() as conn:
        principal = authenticate(conn, key)
    if len(_KNOWN) >= KNOWN_AT_MOST:
        _KNOWN.clear()
    _KNOWN[key] = (principal, now + KNOWN_FOR)
    return principal
