"""Running the service under gunicorn, from ``eligsim serve``."""

from __future__ import annotations

import json
import socket
from http import HTTPStatus
from typing import Any

from flask import Flask
from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine, ParseException
from gunicorn.workers.gthread import ThreadWorker

from app import create_app
from app.database import open_registry
from app.settings import load_settings
from app.web.errors import STATUS


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return create_app()


class JsonErrorWorker(ThreadWorker):
    """gunicorn's threaded worker (several requests of one process at once, so that the audit log's
    group commit has entries to gather), answering the requests gunicorn refuses itself (a request
    line too long, too many headers, a malformed request: Flask never sees them) in the API's one
    error shape instead of gunicorn's HTML page."""

    def handle_error(self, req: Any, client: socket.socket, addr: Any, exc: BaseException) -> None:
        if isinstance(exc, ParseException):
            self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        else:
            self.log.exception("Error handling request")
        code, message = _refusal(exc)
        try:
            util.write_nonblock(client, _response(code, message))
        except OSError:
            self.log.debug("Failed to send error message.")


def _refusal(exc: BaseException) -> tuple[str, str]:
    """The stable code and message for an error raised before the application was called."""
    if isinstance(exc, LimitRequestHeaders):
        return "REQUEST_HEADER_FIELDS_TOO_LARGE", "too many header fields, or one of them too long"
    if isinstance(exc, LimitRequestLine):
        return "BAD_REQUEST", "the request line is too long"
    if isinstance(exc, ParseException):
        return "BAD_REQUEST", "the request is not valid HTTP"
    return "INTERNAL_ERROR", "unexpected error; it has been logged"


def _response(code: str, message: str) -> bytes:
    status = HTTPStatus(STATUS[code])
    body = json.dumps({"error": {"code": code, "message": message, "details": {}}}).encode()
    head = (
        f"HTTP/1.1 {status.value} {status.phrase}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


def serve(host: str, port: int, workers: int) -> None:
    """``workers`` processes of ``ELIGSIM_SERVE_THREADS`` request threads each. The schema is
    brought up to date here first: workers starting together on a new database would each try
    to create it."""
    settings = load_settings()
    open_registry(settings).dispose()
    threads = settings.serve_threads
    options = {"bind": f"{host}:{port}", "workers": workers, "threads": threads, "accesslog": "-"}
    _Gunicorn({**options, "worker_class": JsonErrorWorker}).run()
