"""Serve a virtual card to a real pcscd through the vsmartcard vpcd driver (reader "Virtual PCD 00 00").

Every message either way is a 2-byte big-endian length and a payload: one byte is a control (0 power
off, 1 power on, 2 reset, 4 get ATR, only the last answered), longer is a command APDU answered by
data ‖ SW1 SW2. An open connection is an inserted card; closing it removes the card.

Who opens the connection depends on the driver's ``DEVICENAME`` in pcscd's reader.conf:

* ``/dev/null:0x8C7B`` (Debian's ``/etc/reader.conf.d/vpcd`` and the project's own
  ``scripts/pcscd/reader.conf.d``): vpcd listens on port 35963 (slot 0) and 35964 (slot 1) and the
  card connects (``listen=False``, the default). vpcd binds those ports on every interface; the
  project's scripts preload ``scripts/pcscd/vpcd_loopback.c`` into pcscd so they bind 127.0.0.1.
* ``localhost:0x8C7B``: vpcd connects to the card, so the card listens (``listen=True``), on
  127.0.0.1 by default, and takes pcscd's connection again whenever pcscd restarts. Debian's vpcd
  3.3 aborts pcscd in this mode at the first presence poll of a slot without a card connection
  (slot 1 at once, slot 0 when its card leaves: vsmartcard issue #224, fixed upstream after 3.3),
  so this mode needs a vpcd built from vsmartcard's sources.

:func:`exposed_addresses` tells whether a card port is open beyond loopback, whoever opened it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from card_reader.errors import CardRemoved
from card_reader.virtual_card import VirtualCard

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 35963
_GET_ATR = 4
_RETRY_SECONDS = 0.2
_READER_NAME = re.compile(r"Virtual PCD 00 (\d\d)$")
_TCP_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
_TCP_LISTEN = "0A"
_WILDCARDS = ("0.0.0.0", "::")


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        # without quick ACKs every APDU waits ~40 ms for the peer's delayed ACK
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(len(payload).to_bytes(2, "big") + payload)


class VirtualCardServer:
    """Runs in a background thread; ``insert``/``remove`` drive the card in and out of the reader.

    Connecting (the default): while the card is inserted and pcscd is not (yet) listening, it keeps
    retrying to connect. Listening (``listen=True``): ``start`` binds ``host:port`` at once (an
    ``OSError`` when the port is taken), then takes one connection from pcscd at a time; while the
    card is out, a connection is closed as soon as it is taken, which vpcd reads as an empty slot.
    """

    def __init__(
        self,
        card: VirtualCard,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        listen: bool = False,
    ) -> None:
        self.card = card
        self.host, self.port, self.listen = host, port, listen
        self._present = threading.Event()
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def connected(self) -> bool:
        """True while the driver holds the connection (the card is in the reader)."""
        return self._connected.is_set()

    def start(self, inserted: bool = True) -> VirtualCardServer:
        self._stopping.clear()
        if self.listen:
            self._listener = socket.create_server((self.host, self.port))
            self._listener.settimeout(_RETRY_SECONDS)
        self._thread = threading.Thread(target=self._run, name="vpcd-card", daemon=True)
        self._thread.start()
        if inserted:
            self.insert()
        return self

    def insert(self) -> None:
        self.card.insert()
        self._present.set()

    def remove(self) -> None:
        self._present.clear()
        self._disconnect()

    def stop(self) -> None:
        self._stopping.set()
        self.remove()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def _disconnect(self) -> None:
        with self._lock:
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    self._sock.shutdown(socket.SHUT_RDWR)

    def _run(self) -> None:
        while not self._stopping.is_set():
            sock = self._accept() if self.listen else self._connect()
            if sock is not None:
                self._serve_connection(sock)

    def _connect(self) -> socket.socket | None:
        """A connection to pcscd's vpcd port while the card is inserted; None to try again."""
        if not self._present.wait(0.1):
            return None
        try:
            return socket.create_connection((self.host, self.port), timeout=1.0)
        except OSError:  # pcscd not listening (yet): retry while inserted
            self._stopping.wait(_RETRY_SECONDS)
            return None

    def _accept(self) -> socket.socket | None:
        """pcscd's next connection, kept only while the card is inserted; None to wait again."""
        assert self._listener is not None
        try:
            sock, _peer = self._listener.accept()
        except OSError:  # timed out (checks for stop), or closed by stop
            return None
        if not self._present.is_set():
            sock.close()
            return None
        return sock

    def _serve_connection(self, sock: socket.socket) -> None:
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._sock = sock
        if not self._present.is_set():  # removed while connecting
            sock.shutdown(socket.SHUT_RDWR)
        self._connected.set()
        try:
            self._serve(sock)
        except OSError:
            pass
        finally:
            self._connected.clear()
            with self._lock:
                self._sock = None
            sock.close()

    def _serve(self, sock: socket.socket) -> None:
        while True:
            header = _recv_exact(sock, 2)
            payload = header and _recv_exact(sock, int.from_bytes(header, "big"))
            if not payload:
                return
            if len(payload) == 1:
                if payload[0] == _GET_ATR:
                    _send(sock, self.card.atr)
                else:  # power off, power on, reset
                    self.card.reset()
                continue
            try:
                response = self.card.transmit(payload)
            except CardRemoved:  # fault injection: the card leaves mid-session
                self._present.clear()
                return
            _send(sock, response)


def reader_name(port: int = DEFAULT_PORT) -> str:
    """The reader pcscd shows for a vpcd port: slot 0 listens on 35963, slot 1 on 35964."""
    return f"Virtual PCD 00 {port - DEFAULT_PORT:02d}"


def reader_port(name: str) -> int | None:
    """The card port of a vpcd reader named as pcscd names it (``Virtual PCD 00 01`` → 35964);
    None for any other reader."""
    match = _READER_NAME.match(name)
    return DEFAULT_PORT + int(match.group(1)) if match else None


def exposure_warning(reader: str) -> str | None:
    """A warning when ``reader`` is a vpcd reader whose card port is open beyond loopback: any host
    that reaches this machine can then insert a card of its choosing, or hold the slot."""
    port = reader_port(reader)
    addresses = exposed_addresses(port) if port is not None else []
    if not addresses:
        return None
    where = ", ".join(f"{a} (every interface)" if a in _WILDCARDS else a for a in addresses)
    return (
        f"warning: {reader!r} takes cards on port {port} at {where}: any host that reaches this"
        " machine can insert a card (scripts/pcscd/run starts pcscd with its card ports on"
        " 127.0.0.1)"
    )


def exposed_addresses(port: int) -> list[str]:
    """The addresses other than loopback on which some process of this machine listens on TCP
    ``port`` (``0.0.0.0`` and ``::`` mean every interface). Read from /proc/net, so it sees
    pcscd's sockets without pcscd's privileges; empty where /proc/net is absent."""
    found: list[str] = []
    for listener in listening_sockets():
        if listener.port == port and not listener.loopback and listener.address not in found:
            found.append(listener.address)
    return found


@dataclass(frozen=True)
class Listener:
    address: str
    port: int
    inode: int  # the socket's inode: /proc/<pid>/fd/* of its owner links to socket:[inode]
    loopback: bool


def listening_sockets() -> list[Listener]:
    """Every TCP socket of this machine's network namespace in the LISTEN state, IPv4 and IPv6."""
    found = []
    for table in _TCP_TABLES:
        try:
            lines = table.read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        found += [_listener(fields) for fields in map(str.split, lines) if fields[3] == _TCP_LISTEN]
    return found


def _listener(fields: list[str]) -> Listener:
    """One row of /proc/net/tcp*: local address and port in hex, state, ..., inode tenth."""
    hex_address, hex_port = fields[1].split(":")
    address = _proc_address(hex_address)
    return Listener(str(address), int(hex_port, 16), int(fields[9]), _is_loopback(address))


def _proc_address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """/proc/net/tcp* print an address as 32-bit words, each in the machine's (little-endian) order."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(words)


def _is_loopback(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return (mapped or address).is_loopback
