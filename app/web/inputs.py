"""What every operation's input must be before its view (and webargs) reads it.

Each refusal here once answered 500 or was silently ignored: JSON nested too deep for the parser,
integers too long for ``int``, lone surrogates and NUL characters that no database stores, a body
that is not JSON (415, as the README promises), and query parameters nobody reads. The check wraps
the view itself, so it runs after every ``before_request`` hook (the payer blueprint raises the
body limit for uploads there)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from flask import Flask, g, request

from app.service.errors import ServiceError
from app.web.errors import ApiError
from payer_registry.records import UnreadableJson, strict_json

View = Callable[..., Any]


def check_inputs(app: Flask) -> None:
    """Wrap every documented operation of ``app`` (the API and the reader station) in the checks;
    call it once every blueprint is registered."""
    for endpoint, view in list(app.view_functions.items()):
        locations = declared_locations(view)
        if locations is not None:
            app.view_functions[endpoint] = _checked(view, locations)


def declared_locations(view: View) -> set[str] | None:
    """Where the operation takes arguments ("json", "query"), from the documentation flask-smorest
    keeps on the view; None for a view that is no operation (pages, static files, the docs)."""
    documented = getattr(view, "_apidoc", None)
    if documented is None:
        return None
    parameters = documented.get("arguments", {}).get("parameters", [])
    return {parameter["in"] for parameter in parameters}


def _checked(view: View, locations: set[str]) -> View:
    @wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        _refuse_nul(kwargs.values(), "path")
        _refuse_nul((value for _, value in request.args.items(multi=True)), "query")
        if "query" not in locations:  # declared query schemas refuse unknown names themselves
            _refuse_query()
        _check_body()
        return view(*args, **kwargs)

    return checked


def json_body() -> Any:
    """The request's body as the check parsed it (once), or ``{}`` for a request without one."""
    return g.get("json_body", {})


def _refuse_nul(values: Iterable[Any], where: str) -> None:
    """A NUL character in a path or query value: PostgreSQL refuses it in any text."""
    if any("\x00" in str(value) for value in values):
        raise ApiError("BAD_REQUEST", f"the {where} holds a NUL character")


def _refuse_query() -> None:
    if request.args:
        unknown = {name: ["Unknown field."] for name in request.args}
        raise ServiceError(
            "VALIDATION_FAILED", "this operation takes no query parameters", {"query": unknown}
        )


def _check_body() -> None:
    """A body, when there is one, is JSON the service can hold: 415 for another media type, 400
    for text that is not UTF-8 or not such JSON."""
    body = request.get_data(cache=True)
    if not body:
        return
    if not request.is_json:
        raise ApiError("UNSUPPORTED_MEDIA_TYPE", "send the body as application/json")
    try:
        g.json_body = strict_json(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError("BAD_REQUEST", "the body is not UTF-8", {"json": ["not UTF-8"]}) from None
    except UnreadableJson as error:
        raise ApiError(
            "BAD_REQUEST", f"the body cannot be read: {error}", {"json": [str(error)]}
        ) from None
