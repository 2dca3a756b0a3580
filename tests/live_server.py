"""Serving a WSGI application on a free loopback port for tests that talk HTTP to it."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests
from werkzeug.serving import make_server


@contextmanager
def serve_in_thread(wsgi_app) -> Iterator[str]:
    """The application served by werkzeug in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def eligsim_serve(eligsim: str, env: dict[str, str], port: int) -> Iterator[str]:
    """A real ``eligsim serve`` (gunicorn, one worker) on ``port``, once healthy; yields its URL."""
    with eligsim_server(eligsim, env, port) as (url, _master_pid):
        yield url


@contextmanager
def eligsim_server(
    eligsim: str, env: dict[str, str], port: int, workers: int = 1
) -> Iterator[tuple[str, int]]:
    """``eligsim serve`` with ``workers`` worker processes on ``port``, once healthy; yields its URL
    and the pid of gunicorn's master (the workers are its children)."""
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [eligsim, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            assert server.poll() is None, "eligsim serve exited"
            assert time.monotonic() < deadline, f"eligsim serve did not answer at {url}"
            time.sleep(0.1)
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(timeout=10)


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/api/v1/health", timeout=1).ok
    except (requests.ConnectionError, requests.Timeout):  # not listening, or still booting
        return False
