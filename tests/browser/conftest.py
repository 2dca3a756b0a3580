"""A real headless Chromium (Debian's, driven by Playwright) against the service on a loopback port,
on a seeded registry with the scenario library and the demo clinic, as after ``scripts/run``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import create_app
from app.settings import load_settings
from tests.conftest import require_service
from tests.live_server import serve_in_thread

CHROMIUM = os.environ.get("ELIGSIM_CHROMIUM", "/usr/bin/chromium")
ELIGSIM = str(Path(sys.executable).with_name("eligsim"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}


def _eligsim(var_dir: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELIGSIM_", "DATABASE_URL"))}
    env.pop("REDIS_URL", None)
    done = subprocess.run(
        [ELIGSIM, *args],
        env={**env, "ELIGSIM_VAR_DIR": str(var_dir)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="session")
def var_dir(tmp_path_factory) -> Path:
    var = tmp_path_factory.mktemp("browser-var")
    _eligsim(var, "registry", "seed", "--persons", "200", "--seed", "1", "--scenarios")
    _eligsim(var, "demo", "setup")
    return var


@pytest.fixture(scope="session")
def base_url(var_dir):
    app = create_app(load_settings({"ELIGSIM_VAR_DIR": str(var_dir)}))
    with serve_in_thread(app) as url:
        yield url
    app.extensions["registry"].dispose()


@pytest.fixture(scope="session")
def browser():
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).exists()):
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        require_service("Playwright", str(error))
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def console_errors() -> list[str]:
    """The errors the page logs to the browser console during a test."""
    return []


@pytest.fixture
def page(browser, base_url, console_errors):
    """A page of its own; at the end, no console error may say the pages' Content Security Policy
    blocked something (a script, a style, a connection the pages need)."""
    context = browser.new_context(viewport=VIEWPORT, base_url=base_url, locale="ja-JP")
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    opened.on("console", lambda message: _keep_error(console_errors, message))
    yield opened
    context.close()
    blocked = [text for text in console_errors if "Content Security Policy" in text]
    assert not blocked, f"the page's Content Security Policy blocked: {blocked}"


def _keep_error(errors: list[str], message) -> None:
    if message.type == "error":
        errors.append(message.text)


@pytest.fixture
def shot():
    """Save a screenshot of the page as a test artifact (never committed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page, name: str, full_page: bool = False) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)

    return save
