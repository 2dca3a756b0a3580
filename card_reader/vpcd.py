"""Serve a virtual card to a real pcscd through the vsmartcard vpcd driver (reader "Virtual PCD 00 00").

The card is a TCP client of the driver (127.0.0.1:35963 by default; keep it on loopback). Every message
either way is a 2-byte big-endian length and a payload: one byte is a control (0 power off, 1 power on,
2 reset, 4 get ATR, only the last answered), longer is a command APDU answered by data ‖ SW1 SW2.
An open connection is an inserted card; closing it removes the card.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from card_reader.errors import CardRemoved
from card_reader.virtual_card import VirtualCard

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 35963
_GET_ATR = 4
_RETRY_SECONDS = 0.2


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

    While the card is inserted and pcscd is not (yet) listening, it keeps retrying to connect.
    """

    def __init__(
        self, card: VirtualCard, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT
    ) -> None:
        self.card = card
        self.host, self.port = host, port
        self._present = threading.Event()
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def connected(self) -> bool:
        """True while the driver holds the connection (the card is in the reader)."""
        return self._connected.is_set()

    def start(self, inserted: bool = True) -> VirtualCardServer:
        self._stopping.clear()
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

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def _disconnect(self) -> None:
        with self._lock:
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    self._sock.shutdown(socket.SHUT_RDWR)

    def _run(self) -> None:
        while not self._stopping.is_set():
            if not self._present.wait(0.1):
                continue
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1.0)
            except OSError:  # pcscd not listening (yet): retry while inserted
                self._stopping.wait(_RETRY_SECONDS)
                continue
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
