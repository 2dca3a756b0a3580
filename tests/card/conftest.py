"""Fixtures for the card tests: one simulated authority and one issued card per session (RSA key
generation is the slow part); every test gets its own copy of the card file."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from card_reader.authority import Authority
from card_reader.card_file import save_card
from card_reader.issuance import issue_card
from card_reader.jpki import JpkiClient
from card_reader.surface import SurfaceAttributes
from card_reader.transport import InProcessTransport
from card_reader.verify import TrustStore
from card_reader.virtual_card import VirtualCard
from card_reader.vpcd import VirtualCardServer, reader_name
from tests.conftest import require_service

PIN = "1234"
SIGNATURE_PIN = "ABC123"
HOLDER = SurfaceAttributes("山田 太郎", "東京都千代田区霞が関1-2-2", date(1980, 5, 10), "1")


@pytest.fixture(scope="session")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return Authority(tmp_path_factory.mktemp("jpki"))


@pytest.fixture(scope="session")
def card_template(authority: Authority, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.card"
    save_card(path, issue_card(authority, HOLDER, PIN, signature_pin=SIGNATURE_PIN))
    return path


@pytest.fixture
def card_path(card_template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "test.card"
    shutil.copyfile(card_template, path)
    return path


@pytest.fixture
def card(card_path: Path) -> VirtualCard:
    return VirtualCard.load(card_path)


@pytest.fixture
def client(card: VirtualCard) -> JpkiClient:
    return JpkiClient(InProcessTransport(card))


@pytest.fixture
def store(authority: Authority) -> TrustStore:
    return TrustStore.for_authority(authority)


# -- a real pcscd with the vpcd virtual reader ------------------------------------------------------

VPCD_PORT = 35963
ROOT = Path(__file__).resolve().parents[2]
PRESENCE_TIMEOUT = 5.0


def _vpcd_listed() -> bool:
    from card_reader import pcsc
    from card_reader.errors import NoPcscService

    try:
        return reader_name(VPCD_PORT) in pcsc.list_readers()
    except NoPcscService:
        return False


def _start_pcscd() -> int:
    """pcscd started as scripts/test starts it (the project's reader list, card ports on loopback
    only); its pid."""
    command = 'source scripts/lib.sh && start_pcscd && echo "$PCSCD_STARTED"'
    done = subprocess.run(
        ["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        require_service("pcscd", (done.stderr.strip().splitlines() or ["did not start"])[-1])
    return int(done.stdout.split()[-1])


def _stop(pid: int) -> None:
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture(scope="session")
def pcscd() -> Iterator[str]:
    """The vpcd reader's name, with pcscd running: started here as scripts/test starts it when it
    is not, and stopped at the end. Under CI=true a missing pcscd fails the run; elsewhere the
    tests skip."""
    try:
        import card_reader.pcsc  # noqa: F401  (pyscard must be importable)
    except ImportError as error:
        require_service("pyscard", str(error))
    started = None
    if not _vpcd_listed():
        if shutil.which("pcscd") is None:
            require_service("pcscd", "not installed (apt-get install pcscd vsmartcard-vpcd)")
        started = _start_pcscd()
        deadline = time.monotonic() + 10
        while not _vpcd_listed() and time.monotonic() < deadline:
            time.sleep(0.1)
        if not _vpcd_listed():
            _stop(started)
            require_service("pcscd", f"no reader {reader_name(VPCD_PORT)!r} within 10 s")
    yield reader_name(VPCD_PORT)
    if started is not None:
        _stop(started)


@pytest.fixture
def served(pcscd: str, card: VirtualCard) -> Iterator[VirtualCardServer]:
    """The test's card inserted into the vpcd reader; removed (and seen removed) afterwards."""
    from card_reader import pcsc

    server = VirtualCardServer(card, port=VPCD_PORT).start()
    try:
        pcsc.wait_for_card(pcscd, timeout=PRESENCE_TIMEOUT)
        yield server
    finally:
        server.stop()
        pcsc.wait_for_card(pcscd, present=False, timeout=PRESENCE_TIMEOUT)
