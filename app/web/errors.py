"""One error shape for the whole API: ``{"error": {"code", "message", "details"}}``.

The use cases raise ``ServiceError`` with a stable code; this module gives every code its HTTP
status. ``ApiError`` carries the few codes that only HTTP has (keys, methods, media types)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from app.service.errors import SERVICE_ERRORS, CodedError, card_refusal
from card_reader.errors import CardError
from payer_registry.db import RegistryUnavailable

log = logging.getLogger(__name__)

WEB_ERRORS = {
    "BAD_REQUEST": "the request could not be read (e.g. not JSON)",
    "AUTH_REQUIRED": "no API key was sent",
    "AUTH_WRONG_KIND": "the key belongs to another kind of client (institution or payer)",
    "METHOD_NOT_ALLOWED": "the path does not take this method",
    "UNSUPPORTED_MEDIA_TYPE": "send the body as application/json",
    "REQUEST_ENTITY_TOO_LARGE": "the body is larger than the service accepts",
    "REQUEST_HEADER_FIELDS_TOO_LARGE": "too many header fields, or one of them too long",
    "TOO_MANY_REQUESTS": "the key's rate limit is exceeded; retry later",
    "STATION_LOCAL_ONLY": "the front-desk reader station answers only requests from this machine",
    "STATION_FORBIDDEN_ORIGIN": "the reader station answers only its own pages (Host, Origin)",
    "STATION_TOKEN_INVALID": "a reader station call lacks its page's token; reload the page",
    "INTERNAL_ERROR": "an unexpected error; it was logged",
}
STATUS = {
    "VALIDATION_FAILED": 422,
    "BAD_REQUEST": 400,
    "AUTH_REQUIRED": 401,
    "AUTH_INVALID": 401,
    "AUTH_WRONG_KIND": 403,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "REQUEST_ENTITY_TOO_LARGE": 413,
    "REQUEST_HEADER_FIELDS_TOO_LARGE": 431,
    "TOO_MANY_REQUESTS": 429,
    "CHALLENGE_INVALID": 409,
    "CERT_UNTRUSTED": 422,
    "CERT_EXPIRED": 422,
    "CERT_NOT_YET_VALID": 422,
    "CERT_REVOKED": 422,
    "CERT_KEY_USAGE": 422,
    "SIGNATURE_INVALID": 422,
    "REVOCATION_UNKNOWN": 503,
    "CARD_NOT_LINKED": 422,
    "CONSENT_NOT_OFFERED": 403,
    "CONSENT_REQUIRED": 403,
    "CONSENT_EXPIRED": 403,
    "DISASTER_ACCESS_FORBIDDEN": 403,
    "DISASTER_SEARCH_INCOMPLETE": 422,
    "DISASTER_SEARCH_TOO_BROAD": 422,
    "BATCH_QUEUE_UNAVAILABLE": 503,
    "BATCH_BIRTH_DATE_PROBING": 422,
    "INQUIRY_FAILED": 422,
    "TOO_MANY_RECORDS": 413,
    "RECORD_CONFLICT": 409,
    "PAYER_INSURER_FORBIDDEN": 403,
    "STATION_LOCAL_ONLY": 403,
    "STATION_FORBIDDEN_ORIGIN": 403,
    "STATION_TOKEN_INVALID": 403,
    "STATION_NOT_READY": 503,
    "NO_READER": 404,
    "NO_CARD": 409,
    "CARD_REMOVED": 409,
    "NOT_MY_NUMBER_CARD": 422,
    "WRONG_PIN": 422,
    "PIN_LAST_TRY": 409,
    "PIN_LOCKED": 422,
    "NO_PCSC_SERVICE": 503,
    "CARD_ERROR": 502,
    "REGISTRY_UNAVAILABLE": 503,
    "INTERNAL_ERROR": 500,
}
# Every stable code with its HTTP status and meaning; served in the OpenAPI document.
ERROR_CODES = {
    code: (STATUS[code], meaning) for code, meaning in (SERVICE_ERRORS | WEB_ERRORS).items()
}


class ApiError(CodedError):
    """An error of the HTTP layer itself, with a code from ``WEB_ERRORS``."""

    catalogue = WEB_ERRORS


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> tuple[Response, int]:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return jsonify(body), status


def _coded(error: CodedError) -> tuple[Response, int]:
    return error_response(STATUS[error.code], error.code, error.message, error.details)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(CodedError, _coded)
    app.register_error_handler(CardError, lambda error: _coded(card_refusal(error)))
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(RegistryUnavailable, _registry_down)
    app.register_error_handler(Exception, _unexpected)


def _http_error(error: HTTPException) -> tuple[Response, int]:
    status = error.code or 500
    code = (
        "VALIDATION_FAILED" if status == 422 else (error.name or "error").upper().replace(" ", "_")
    )
    details = getattr(error, "data", {}).get("messages", {})
    response, status = error_response(status, code, error.description or error.name, details)
    for name, value in error.get_headers():  # e.g. Allow on 405, Retry-After on 429
        if name.lower() != "content-type":
            response.headers[name] = value
    return response, status


def _registry_down(error: RegistryUnavailable) -> tuple[Response, int]:
    log.error("registry unavailable: %s", error)
    return error_response(503, "REGISTRY_UNAVAILABLE", "the registry database is unavailable")


def _unexpected(error: Exception) -> tuple[Response, int]:
    log.exception("unexpected error")
    return error_response(500, "INTERNAL_ERROR", "unexpected error; it has been logged")
