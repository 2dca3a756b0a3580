"""One error shape for the whole API: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from payer_registry.db import RegistryUnavailable

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with a stable machine-readable code."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or {}


def error_response(status: int, code: str, message: str, details: dict | None = None):
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return jsonify(body), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return error_response(error.status, error.code, error.message, error.details)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        code = (error.name or "error").upper().replace(" ", "_")
        details = getattr(error, "data", {}).get("messages", {}) if hasattr(error, "data") else {}
        status = error.code or 500
        if status == 422:
            code = "VALIDATION_FAILED"
        return error_response(status, code, error.description or error.name, details)

    @app.errorhandler(RegistryUnavailable)
    def _registry_down(error: RegistryUnavailable):
        log.error("registry unavailable: %s", error)
        return error_response(503, "REGISTRY_UNAVAILABLE", "the registry database is unavailable")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unexpected error")
        return error_response(500, "INTERNAL_ERROR", "unexpected error; it has been logged")
