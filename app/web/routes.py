"""Routes built the same way for the API and the reader station: an operation with a stable
``operationId``, and the record pages a consent (or the portal) unlocks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from typing import Any

from flask import jsonify
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError
from webargs.flaskparser import abort

from app.service.consent import RECORD_PAGES
from app.service.visits import medical_records
from app.web.extensions import service
from app.web.inputs import json_body
from app.web.schemas import DateRangeQuerySchema, PageSchema
from payer_registry.medical import Page

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]
RecordView = Callable[..., Any]


def operation(blueprint: Blueprint, operation_id: str) -> Decorator:
    """Name the operation for generated clients (e.g. ``check_eligibility``)."""
    return blueprint.doc(operationId=operation_id)


def json_operation(
    blueprint: Blueprint, body: Schema, result: Schema, status: int = 200
) -> Decorator:
    """``blueprint.arguments(body)`` and ``blueprint.response(status, result)`` as the OpenAPI
    document shows them and as clients meet them (the same 422 for a body the schema refuses, the
    same dump), but run without webargs' parser and flask-smorest's wrappers, which cost a hot
    operation (a check by numbers) more of the worker's time than its two reads; the body is the
    one the input check already parsed."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        documented = blueprint.response(status, result)(blueprint.arguments(body)(view))

        @wraps(view)
        def lean(*args: Any, **kwargs: Any) -> Any:
            try:
                loaded = body.load(json_body())
            except ValidationError as error:
                abort(422, exc=error, messages={"json": error.messages}, schema=body)
            return jsonify(result.dump(view(loaded, *args, **kwargs))), status

        lean._apidoc = documented._apidoc  # type: ignore[attr-defined]
        return lean

    return decorate


def add_record_routes(
    blueprint: Blueprint,
    rule: str,
    pages: Mapping[str, str],
    make_view: Callable[[str], RecordView],
    name: str,
    guards: Iterable[Decorator] = (),
) -> None:
    """One paged GET per ``path -> category`` of ``pages`` at ``rule/<path>``; ``name`` is a format
    for the view and operation names (``{category}``)."""
    for path, category in pages.items():
        view = make_view(category)
        view.__name__ = name.format(category=category)
        view.__doc__ = view.__doc__ or ""
        decorated = blueprint.response(200, PageSchema)(view)
        decorated = blueprint.arguments(DateRangeQuerySchema, location="query", unknown=RAISE)(
            decorated
        )
        for guard in guards:
            decorated = guard(decorated)
        decorated = operation(blueprint, view.__name__)(decorated)
        blueprint.route(f"{rule}/{path}")(decorated)


def add_visit_record_routes(
    blueprint: Blueprint,
    institution: Callable[[], str],
    name: str,
    guards: Iterable[Decorator] = (),
) -> None:
    """The record pages of a visit (``/visits/<visit_id>/medications`` and the rest), for the
    institution ``institution()`` names, under a live consent."""

    def make_view(category: str) -> RecordView:
        def view(query: dict[str, Any], visit_id: str) -> Page:
            return medical_records(service(), institution(), visit_id, category, query)

        view.__doc__ = (
            f"The visit's {category} records, newest first; needs a live {category} consent."
        )
        return view

    add_record_routes(blueprint, "/visits/<visit_id>", RECORD_PAGES, make_view, name, guards)
