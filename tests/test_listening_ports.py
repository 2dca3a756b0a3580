"""Nothing the project starts listens beyond loopback: pcscd's virtual reader (a card port open to
other hosts lets any of them insert a card of its choosing into "Virtual PCD 00 00"), the service,
and the PostgreSQL and Redis that scripts/test starts when none runs."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from app.frontdesk.readers import catalogue
from card_reader import vpcd
from card_reader.vpcd import DEFAULT_PORT, Listener, exposed_addresses, listening_sockets
from tests.api.test_demo import ELIGSIM, environment
from tests.card.conftest import (  # noqa: F401  (fixtures: the card in pcscd's virtual reader)
    authority,
    card,
    card_path,
    card_template,
    pcscd,
    served,
)
from tests.live_server import eligsim_serve, free_port

SERVICES_THE_SCRIPTS_START = {"pcscd", "redis-server", "postgres"}


def _command_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:  # gone meanwhile
        return ""


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _socket_owners() -> dict[int, int]:
    """Socket inode → pid, for every process whose descriptors this user may read."""
    owners = {}
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            links = [os.readlink(fd) for fd in fd_dir.iterdir()]
        except OSError:
            continue
        for link in links:
            if link.startswith("socket:["):
                owners[int(link[8:-1])] = int(fd_dir.parent.name)
    return owners


def _started_by_the_project(pid: int) -> bool:
    """A service the scripts start, or this test session and what it started (servers, cards)."""
    if _command_name(pid) in SERVICES_THE_SCRIPTS_START:
        return True
    while pid > 1:
        if pid == os.getpid():
            return True
        pid = _parent(pid)
    return False


def _describe(listener: Listener, pid: int | None) -> str:
    owner = f"{_command_name(pid)} (pid {pid})" if pid else "pcscd's virtual reader"
    return f"{owner} on {listener.address} port {listener.port}"


@pytest.mark.pcscd
@pytest.mark.usefixtures("served")
def test_nothing_the_project_started_listens_beyond_loopback(tmp_path: Path) -> None:
    card_ports = {DEFAULT_PORT, DEFAULT_PORT + 1}
    with eligsim_serve(ELIGSIM, environment(tmp_path), free_port()):
        owners = _socket_owners()
        exposed = [
            _describe(listener, owners.get(listener.inode))
            for listener in listening_sockets()
            if not listener.loopback
            # pcscd's sockets may be unreadable without root: its card ports count by number
            and (
                listener.port in card_ports
                or _started_by_the_project(owners.get(listener.inode, 0))
            )
        ]
    assert exposed == []


def test_the_station_notes_a_virtual_reader_other_hosts_can_reach(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.create_server(("0.0.0.0", 0)) as card_port:
        monkeypatch.setattr(vpcd, "DEFAULT_PORT", card_port.getsockname()[1])
        monkeypatch.setattr("card_reader.pcsc.list_readers", lambda: ["Virtual PCD 00 00"])
        assert exposed_addresses(card_port.getsockname()[1]) == ["0.0.0.0"]
        notes = catalogue(tmp_path).notes
    warnings = [note for note in notes if "Virtual PCD 00 00" in note]
    assert len(warnings) == 1
    assert "0.0.0.0 (every interface)" in warnings[0]
    assert "any host that reaches this machine can insert a card" in warnings[0]


def test_the_station_has_no_such_note_on_loopback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as card_port:
        monkeypatch.setattr(vpcd, "DEFAULT_PORT", card_port.getsockname()[1])
        monkeypatch.setattr("card_reader.pcsc.list_readers", lambda: ["Virtual PCD 00 00"])
        notes = catalogue(tmp_path).notes
    assert not [note for note in notes if "Virtual PCD" in note]
