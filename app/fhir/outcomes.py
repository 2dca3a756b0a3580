"""Every error of the FHIR views as an OperationOutcome, with the JSON API's status and stable code.

The statuses come from ``app.web.errors``, so a refusal means the same thing in both APIs; only the
shape differs (FHIR clients read ``issue[0].details.coding[0].code``)."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Response, request
from flask_smorest import Blueprint
from werkzeug.exceptions import HTTPException

from app.service.errors import CodedError
from app.web.errors import STATUS
from payer_registry.db import RegistryUnavailable

log = logging.getLogger(__name__)

ERROR_CODE_SYSTEM = "http://eligsim.example/fhir/CodeSystem/error-code"
FHIR_JSON = "application/fhir+json"
FHIR_PREFIX = "/fhir/r4"
# FHIR's issue type for each status the API answers with
ISSUE_TYPES = {
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    422: "invalid",
    429: "throttled",
}


def fhir_response(resource: dict[str, Any], status: int = 200) -> Response:
    body = json.dumps(resource, ensure_ascii=False)
    return Response(body, status=status, mimetype=FHIR_JSON)


def operation_outcome(status: int, code: str, message: str) -> Response:
    outcome = coded_outcome(
        "fatal" if status >= 500 else "error",
        ISSUE_TYPES.get(status, "exception" if status >= 500 else "processing"),
        code,
        message,
    )
    return fhir_response(outcome, status)


def coded_outcome(severity: str, issue_type: str, code: str, message: str) -> dict[str, Any]:
    """An OperationOutcome of one issue carrying the API's stable code."""
    issue = {
        "severity": severity,
        "code": issue_type,
        "details": {"coding": [{"system": ERROR_CODE_SYSTEM, "code": code}], "text": message},
        "diagnostics": message,
    }
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def register_outcomes(blueprint: Blueprint) -> None:
    """Errors raised under the blueprint (auth, consent, lookups, query checks) answer FHIR, and so
    do unknown paths and methods under its prefix."""
    blueprint.before_app_request(_unrouted)
    blueprint.register_error_handler(CodedError, _coded)
    blueprint.register_error_handler(HTTPException, _http_error)
    blueprint.register_error_handler(RegistryUnavailable, _registry_down)
    blueprint.register_error_handler(Exception, _unexpected)


def _unrouted() -> Response | None:
    """An unknown path or method under the FHIR prefix: routing failed, so no blueprint handler
    would see it and the JSON API's 404/405 body would answer; hooks run before that error."""
    error = request.routing_exception
    if isinstance(error, HTTPException) and _under_fhir(request.path):
        return _http_error(error)
    return None


def _under_fhir(path: str) -> bool:
    return path == FHIR_PREFIX or path.startswith(f"{FHIR_PREFIX}/")


def _coded(error: CodedError) -> Response:
    return operation_outcome(STATUS[error.code], error.code, error.message)


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    code = "VALIDATION_FAILED" if status == 422 else (error.name or "error").upper()
    messages = getattr(error, "data", {}).get("messages")
    message = f"{error.description}: {messages}" if messages else str(error.description)
    response = operation_outcome(status, code.replace(" ", "_"), message)
    for name, value in error.get_headers():  # e.g. Retry-After on 429
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _registry_down(error: RegistryUnavailable) -> Response:
    log.error("registry unavailable: %s", error)
    return operation_outcome(503, "REGISTRY_UNAVAILABLE", "the registry database is unavailable")


def _unexpected(error: Exception) -> Response:
    log.exception("unexpected error")
    return operation_outcome(500, "INTERNAL_ERROR", "unexpected error; it has been logged")
