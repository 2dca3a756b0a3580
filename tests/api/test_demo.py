"""``eligsim demo setup`` on a seeded registry, then ``eligsim demo`` against the service running in
another process, exactly as after ``scripts/run``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from card_reader.card_file import load_card
from card_reader.issuance import auth_certificate
from tests.live_server import eligsim_serve, free_port

pytestmark = pytest.mark.sqlite  # exactly as after scripts/run: the registry in the var directory
ELIGSIM = str(Path(sys.executable).with_name("eligsim"))
STEPS = [
    "service",
    "challenge",
    "certificate",
    "pin",
    "signature",
    "verification",
    "eligibility",
    "consent",
    "consent",
    "medications",
    "checkups",
    "clinical",
]


def environment(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELIGSIM_", "DATABASE_URL"))}
    env.pop("REDIS_URL", None)
    return {**env, "ELIGSIM_VAR_DIR": str(var_dir)}


def eligsim(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ELIGSIM, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> dict[str, str]:
    """A var directory with a small seeded registry."""
    env = environment(tmp_path_factory.mktemp("demo-var"))
    done = eligsim(env, "registry", "seed", "--persons", "300", "--seed", "1")
    assert done.returncode == 0, done.stderr
    return env


@pytest.fixture(scope="module")
def service(seeded) -> str:
    """``eligsim serve`` (gunicorn) on a free loopback port, with the demo set up for it."""
    url = f"http://127.0.0.1:{free_port()}"
    setup = eligsim(seeded, "demo", "setup", "--url", url)
    assert setup.returncode == 0, setup.stderr
    port = int(url.rsplit(":", 1)[1])
    with eligsim_serve(ELIGSIM, seeded, port) as served:
        yield served


def labels(output: str) -> list[str]:
    return [line.split(":", 1)[0] for line in output.splitlines() if not line.startswith("done")]


def test_setup_is_idempotent_and_keeps_the_key_private(seeded):
    out_dir = Path(seeded["ELIGSIM_VAR_DIR"]) / "another-demo"
    first = eligsim(seeded, "demo", "setup", "--out-dir", str(out_dir))
    config = json.loads((out_dir / "demo.json").read_text())
    serials = [auth_certificate(load_card(Path(c["path"]))).serial_number for c in config["cards"]]
    second = eligsim(seeded, "demo", "setup", "--out-dir", str(out_dir))
    again = json.loads((out_dir / "demo.json").read_text())

    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert second.stdout.splitlines()[-1] == again["api_key"] == config["api_key"]
    assert (out_dir / "api-key").read_text().strip() == again["api_key"]
    assert [c["path"] for c in again["cards"]] == [c["path"] for c in config["cards"]]
    assert [auth_certificate(load_card(Path(c["path"]))).serial_number for c in again["cards"]] == (
        serials
    )
    assert len({c["insured_number"] for c in again["cards"]}) == 3
    assert again["card"] == again["cards"][0]["path"] and again["pin"] == "1234"
    for private in (out_dir / "demo.json", out_dir / "api-key", Path(again["card"])):
        assert private.stat().st_mode & 0o777 == 0o600


def test_demo_runs_a_whole_visit_with_the_defaults(seeded, service):
    done = eligsim(seeded, "demo")
    assert done.returncode == 0, done.stderr
    assert labels(done.stdout) == STEPS
    lines = dict(line.split(":", 1) for line in done.stdout.splitlines()[:-1])
    assert lines["verification"].strip().endswith(": valid")
    assert lines["eligibility"].strip().startswith("valid: ")
    assert "records, newest" in lines["medications"] and "records, newest" in lines["checkups"]
    assert "[CONSENT_REQUIRED]" in lines["clinical"]
    assert done.stdout.splitlines()[-1].endswith("(pin mode)")


def test_demo_in_face_mode(seeded, service):
    done = eligsim(seeded, "demo", "--face")
    assert done.returncode == 0, done.stderr
    assert "pin" not in labels(done.stdout) and "face" in labels(done.stdout)
    assert done.stdout.splitlines()[-1].endswith("(face mode)")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "http://127.0.0.1:{port}"], "cannot reach the service at"),
        (["--api-key", "esk_0_wrong"], "the API key is not valid [AUTH_INVALID]"),
        (["--pin", "12"], "the PIN is 4 digits"),
    ],
)
def test_demo_failures_are_one_line(seeded, service, args, message):
    args = [arg.format(port=free_port()) for arg in args]
    done = eligsim(seeded, "demo", *args)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and message in done.stderr
    assert "Traceback" not in done.stderr


def test_demo_without_setup_says_what_to_do(tmp_path):
    done = eligsim(environment(tmp_path), "demo")
    assert done.returncode == 1
    assert "run `eligsim demo setup`" in done.stderr
