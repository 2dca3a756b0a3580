"""Through the real pcscd and the vpcd driver, exactly as a front-desk application talks to a reader."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from app.cli import main
from card_reader import pcsc
from card_reader.apdu import ATR
from card_reader.errors import CardRemoved, NoCard, PinLastTry, PinLocked, WrongPin
from card_reader.jpki import JpkiClient
from card_reader.verify import TrustStore
from card_reader.virtual_card import VirtualCard
from card_reader.vpcd import VirtualCardServer

from .conftest import PIN, PRESENCE_TIMEOUT

pytestmark = pytest.mark.pcscd


@pytest.fixture
def client(served: VirtualCardServer, pcscd: str):
    transport = pcsc.connect(pcscd)
    yield JpkiClient(transport)
    transport.close()


def test_lists_the_virtual_reader(pcscd: str) -> None:
    assert pcscd in pcsc.list_readers()


def test_read(client: JpkiClient, card: VirtualCard, pcscd: str) -> None:
    assert client.transport.atr == ATR
    assert client.transport.reader_name == pcscd
    assert client.read_token() == "JPKIAPICCTOKEN2"
    assert client.read_auth_certificate().startswith(b"\x30\x82")
    assert client.auth_pin_tries_left() == 3


def test_pin_wrong_then_right(client: JpkiClient) -> None:
    with pytest.raises(WrongPin) as wrong:
        client.verify_auth_pin("0000")
    assert wrong.value.tries_left == 2
    client.verify_auth_pin(PIN)
    assert client.auth_pin_tries_left() == 3


def test_pin_lock(client: JpkiClient) -> None:
    for _ in range(2):
        with pytest.raises(WrongPin):
            client.verify_auth_pin("0000")
    with pytest.raises(PinLastTry):
        client.verify_auth_pin("0000")
    with pytest.raises(PinLocked):
        client.verify_auth_pin("0000", force=True)
    assert client.auth_pin_tries_left() == 0


def test_sign_and_verify(client: JpkiClient, store: TrustStore) -> None:
    client.verify_auth_pin(PIN)
    signature = client.sign_challenge(b"challenge over pcscd")
    result = store.verify(client.read_auth_certificate(), signature, b"challenge over pcscd")
    assert result.ok, result.message


def test_removal_mid_session(client: JpkiClient, card: VirtualCard) -> None:
    client.read_token()
    card.faults.remove_after = card.apdu_count + 2  # gone in the middle of the certificate
    with pytest.raises(CardRemoved):
        client.read_auth_certificate()


def test_no_card(served: VirtualCardServer, pcscd: str) -> None:
    served.remove()
    pcsc.wait_for_card(pcscd, present=False, timeout=PRESENCE_TIMEOUT)
    with pytest.raises(NoCard):
        pcsc.connect(pcscd)


def test_cli_bench_through_pcscd(served: VirtualCardServer, pcscd: str) -> None:
    args = ["bench", "--reader", pcscd, "--pin", PIN, "--rounds", "5", "--json"]
    result = CliRunner().invoke(main, ["card", *args])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["completed"] == 5 and report["errors"] == {}
    assert report["total_ms"]["median"] > 0
    assert report["atr"] == "3B E0 00 FF 81 31 FE 45 14"


def test_pcscd_down_is_one_clear_line() -> None:
    """A client pointed at a socket where no pcscd listens (the running pcscd is left alone)."""
    env = dict(os.environ, PCSCLITE_CSOCK_NAME="/nonexistent/pcscd.comm")
    command = [sys.executable, "-m", "app.cli", "card", "list-readers"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert "no PC/SC service" in done.stderr and "[NO_PCSC_SERVICE]" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
