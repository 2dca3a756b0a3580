"""The vpcd card server's listening mode, with a stand-in for vpcd's connecting side (what vpcd does
when its DEVICENAME names a host), and the warning about a card port open beyond loopback."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main
from card_reader import vpcd
from card_reader.apdu import ATR, JPKI_AID
from card_reader.virtual_card import VirtualCard
from card_reader.vpcd import VirtualCardServer, exposed_addresses
from tests.live_server import free_port

SELECT_JPKI = bytes([0x00, 0xA4, 0x04, 0x0C, len(JPKI_AID)]) + JPKI_AID
GET_ATR = b"\x04"


class Vpcd:
    """vpcd's side of one connection: connects to the card, sends length-prefixed messages."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)

    def ask(self, payload: bytes) -> bytes | None:
        """The card's answer; None when the card closed the connection (an empty slot)."""
        try:
            self.sock.sendall(len(payload).to_bytes(2, "big") + payload)
            header = self.sock.recv(2, socket.MSG_WAITALL)
            if len(header) < 2:
                return None
            return self.sock.recv(int.from_bytes(header, "big"), socket.MSG_WAITALL)
        except ConnectionError:  # closed while the message was on its way
            return None

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listening(card: VirtualCard) -> Iterator[VirtualCardServer]:
    server = VirtualCardServer(card, port=free_port(), listen=True).start()
    yield server
    server.stop()


def test_pcscd_connects_to_the_card_and_again_after_it_restarts(
    listening: VirtualCardServer,
) -> None:
    first = Vpcd(listening.port)
    assert first.ask(GET_ATR) == ATR
    assert first.ask(SELECT_JPKI) == b"\x90\x00"
    assert listening.wait_connected(2)
    first.close()  # pcscd stops

    again = Vpcd(listening.port)  # pcscd started again
    assert again.ask(GET_ATR) == ATR
    assert again.ask(SELECT_JPKI) == b"\x90\x00"
    again.close()


def test_a_removed_card_leaves_the_slot_empty_until_inserted(
    listening: VirtualCardServer,
) -> None:
    holder = Vpcd(listening.port)
    assert holder.ask(GET_ATR) == ATR
    listening.remove()
    assert holder.ask(GET_ATR) is None
    assert Vpcd(listening.port).ask(GET_ATR) is None  # vpcd's next poll finds no card

    listening.insert()
    assert Vpcd(listening.port).ask(GET_ATR) == ATR


def test_the_card_listens_on_loopback_only(listening: VirtualCardServer, card: VirtualCard) -> None:
    assert exposed_addresses(listening.port) == []
    everywhere = VirtualCardServer(card, host="0.0.0.0", port=free_port(), listen=True).start()
    try:
        assert exposed_addresses(everywhere.port) == ["0.0.0.0"]
    finally:
        everywhere.stop()


def test_serve_virtual_listens_until_interrupted(card_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "app.cli", "card", "serve-virtual", str(card_path)]
    server = subprocess.Popen(
        [*command, "--listen", "--port", str(port)], stderr=subprocess.PIPE, text=True
    )
    try:
        assert server.stderr is not None
        lines = [server.stderr.readline() for _ in range(2)]
        assert f"listening on 127.0.0.1:{port} for pcscd" in lines[1]
        assert Vpcd(port).ask(GET_ATR) == ATR
        assert exposed_addresses(port) == []
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=10)
    assert server.returncode == 0


def test_serve_virtual_on_a_taken_port_is_one_clear_line(card_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        args = ["card", "serve-virtual", str(card_path), "--listen", "--port", str(port)]
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert (
        result.stderr.strip() == f"Error: cannot listen on 127.0.0.1:{port}: Address already in use"
    )


@pytest.mark.parametrize("bound", ["0.0.0.0", "127.0.0.1"])
def test_list_readers_warns_when_a_card_port_is_open_beyond_loopback(
    bound: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.create_server((bound, 0)) as card_port:
        monkeypatch.setattr(vpcd, "DEFAULT_PORT", card_port.getsockname()[1])
        readers = ["Virtual PCD 00 00", "SONY FeliCa Port/PaSoRi 00 00"]
        monkeypatch.setattr("card_reader.pcsc.list_readers", lambda: readers)
        result = CliRunner().invoke(main, ["card", "list-readers"])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == readers
    if bound == "127.0.0.1":
        assert result.stderr == ""
    else:
        assert "warning: 'Virtual PCD 00 00' takes cards on port" in result.stderr
        assert "0.0.0.0 (every interface)" in result.stderr
        assert len(result.stderr.splitlines()) == 1
