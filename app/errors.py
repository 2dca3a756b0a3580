"""One error shape for the whole API: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from payer_registry.db import RegistryUnavailable

log = logging.getLogger(__name__)


# Every stable error code, its HTTP status and meaning; served in the OpenAPI document.
ERROR_CODES = {
    "VALIDATION_FAILED": (
        422,
        "the request body or query failed validation; details lists each field",
    ),
    "BAD_REQUEST": (400, "the request could not be read (e.g. not JSON)"),
    "AUTH_REQUIRED": (401, "no API key was sent"),
    "AUTH_INVALID": (401, "the API key is unknown or revoked"),
    "AUTH_WRONG_KIND": (403, "the key belongs to another kind of client (institution or payer)"),
    "NOT_FOUND": (404, "no such resource, or not yours to see"),
    "METHOD_NOT_ALLOWED": (405, "the path does not take this method"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "send the body as application/json"),
    "REQUEST_ENTITY_TOO_LARGE": (413, "the body is larger than the service accepts"),
    "TOO_MANY_REQUESTS": (429, "the key's rate limit is exceeded; retry later"),
    "CHALLENGE_INVALID": (409, "the card session's challenge is unknown, expired or already used"),
    "CERT_UNTRUSTED": (422, "the card's certificate does not chain to a trusted JPKI root"),
    "CERT_EXPIRED": (422, "the card's certificate (or its root) has expired"),
    "CERT_NOT_YET_VALID": (422, "the card's certificate is not valid yet"),
    "CERT_REVOKED": (422, "the card's certificate is revoked (lost, renewed or returned card)"),
    "CERT_KEY_USAGE": (422, "the certificate may not be used for digital signatures"),
    "SIGNATURE_INVALID": (422, "the signature over the challenge does not verify"),
    "REVOCATION_UNKNOWN": (503, "the revocation source gave no trustworthy answer; retry"),
    "CARD_NOT_LINKED": (422, "the card is valid but not linked to an insured person"),
    "CONSENT_NOT_OFFERED": (403, "the institution's reader does not offer this consent category"),
    "CONSENT_REQUIRED": (
        403,
        "the patient has not consented to show this category to this institution",
    ),
    "CONSENT_EXPIRED": (403, "the consent has expired; verify the card again to renew it"),
    "BATCH_QUEUE_UNAVAILABLE": (
        503,
        "the batch job queue (Redis) is unavailable; card and number checks still work",
    ),
    "TOO_MANY_RECORDS": (
        413,
        "more records than this endpoint takes at once; use the upload endpoint",
    ),
    "RECORD_CONFLICT": (409, "a record's insured numbers belong to different registered persons"),
    "STATION_LOCAL_ONLY": (
        403,
        "the front-desk reader station answers only requests from this machine",
    ),
    "STATION_NOT_READY": (
        503,
        "the reader station has no institution key: run scripts/run or `eligsim demo setup`",
    ),
    "NO_READER": (404, "the reader station has no such reader (or it was unplugged)"),
    "NO_CARD": (409, "no card in the reader"),
    "CARD_REMOVED": (409, "the card was removed during the session"),
    "NOT_MY_NUMBER_CARD": (422, "the card in the reader is not a My Number Card"),
    "WRONG_PIN": (422, "wrong PIN; details.tries_left says how many tries remain"),
    "PIN_LAST_TRY": (409, "one PIN try left: send again with force to risk locking the card"),
    "PIN_LOCKED": (422, "the card's PIN is locked; only the municipal office can unlock it"),
    "NO_PCSC_SERVICE": (503, "no PC/SC service (pcscd) on the reader station's machine"),
    "CARD_ERROR": (502, "the card or reader answered unexpectedly; details.card_code says how"),
    "REGISTRY_UNAVAILABLE": (503, "the registry database cannot be reached"),
    "INTERNAL_ERROR": (500, "an unexpected error; it was logged"),
}


class ApiError(Exception):
    """An error with a stable machine-readable code from ``ERROR_CODES`` (which sets its status)."""

    def __init__(self, code: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.status = ERROR_CODES[code][0]
        self.code, self.message, self.details = code, message, details or {}


def error_response(
    status: int, code: str, message: str, details: dict | None = None
) -> tuple[Response, int]:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return jsonify(body), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return error_response(error.status, error.code, error.message, error.details)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        status = error.code or 500
        code = (
            "VALIDATION_FAILED"
            if status == 422
            else (error.name or "error").upper().replace(" ", "_")
        )
        details = getattr(error, "data", {}).get("messages", {})
        response, status = error_response(status, code, error.description or error.name, details)
        for name, value in error.get_headers():  # e.g. Allow on 405, Retry-After on 429
            if name.lower() != "content-type":
                response.headers[name] = value
        return response, status

    @app.errorhandler(RegistryUnavailable)
    def _registry_down(error: RegistryUnavailable):
        log.error("registry unavailable: %s", error)
        return error_response(503, "REGISTRY_UNAVAILABLE", "the registry database is unavailable")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unexpected error")
        return error_response(500, "INTERNAL_ERROR", "unexpected error; it has been logged")
