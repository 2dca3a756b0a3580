"""PC/SC through pyscard and pcscd: the only module that imports ``smartcard``.

pyscard raises two unrelated exception families: ``smartcard.Exceptions.SmartcardException`` and its
subclasses, and ``smartcard.pcsc.PCSCExceptions.BaseSCardException`` (e.g. ``EstablishContextException``
when pcscd is not running). Both are turned into the typed errors of :mod:`card_reader.errors`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from smartcard.Exceptions import NoCardException, SmartcardException
from smartcard.pcsc.PCSCExceptions import BaseSCardException, EstablishContextException
from smartcard.scard import SCARD_LEAVE_CARD, SCARD_RESET_CARD
from smartcard.System import readers as _pyscard_readers

from card_reader.errors import (
    CardError,
    CardRemoved,
    NoCard,
    NoPcscService,
    NoReader,
    PcscError,
)

_NO_SERVICE = {0x8010001D, 0x8010001E}  # SCARD_E_NO_SERVICE, SCARD_E_SERVICE_STOPPED
_NO_SMARTCARD = 0x8010000C
_GONE = {0x80100069, 0x80100068, 0x80100067}  # W_REMOVED_CARD, W_RESET_CARD, W_UNPOWERED_CARD
REMOVAL_GRACE_SECONDS = 2.0
_NO_READER = {0x8010002E, 0x80100009, 0x80100017}  # NO_READERS_AVAILABLE, UNKNOWN_, UNAVAILABLE
# PROTO_MISMATCH, NOT_READY, W_UNRESPONSIVE_CARD: a card just inserted, still being powered up
_SETTLING = {0x8010000F, 0x80100010, 0x80100066}
SETTLE_SECONDS = 1.5


class _CardSettling(PcscError):
    """The reader is still powering up a card just inserted; connecting again shortly works."""


def _hresult(exc: Exception) -> int:
    return int(getattr(exc, "hresult", -1)) & 0xFFFFFFFF


def _translate(exc: Exception, reader: str | None, connected: bool) -> CardError:
    code = _hresult(exc)
    if isinstance(exc, EstablishContextException) or code in _NO_SERVICE:
        return NoPcscService(f"{exc}")
    if code in _GONE or (connected and code == _NO_SMARTCARD):
        return CardRemoved()
    if isinstance(exc, NoCardException) or code == _NO_SMARTCARD:
        return NoCard(reader)
    if code in _NO_READER:
        return NoReader(reader)
    if code in _SETTLING and not connected:
        return _CardSettling(f"{exc}")
    return PcscError(f"{exc}")


@contextmanager
def _pcsc_errors(reader: str | None = None, connected: bool = False) -> Iterator[None]:
    try:
        yield
    except (SmartcardException, BaseSCardException) as exc:
        raise _translate(exc, reader, connected) from None


def _readers() -> list[Any]:
    with _pcsc_errors():
        return list(_pyscard_readers())


def list_readers() -> list[str]:
    """Names of the connected readers; ``NoPcscService`` when pcscd is not running."""
    return [str(r) for r in _readers()]


def _matching(name: str | None) -> list[Any]:
    found = _readers()
    if not found:
        raise NoReader()
    if name is None:
        return found
    exact = [r for r in found if str(r) == name]
    chosen = exact or [r for r in found if str(r).startswith(name)]
    if not chosen:
        raise NoReader(name)
    return chosen


class PcscTransport:
    """A connection to the card in one reader; ``close`` resets the card (PIN state forgotten)."""

    def __init__(self, pyscard_reader: Any, disposition: int = SCARD_RESET_CARD) -> None:
        self.reader_name = str(pyscard_reader)
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            try:
                with _pcsc_errors(self.reader_name):
                    self._connection = pyscard_reader.createConnection()
                    self._connection.connect(disposition=disposition)
                    self.atr = bytes(self._connection.getATR())
                return
            except _CardSettling:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)

    def _send(self, apdu: bytes) -> tuple[bytes, int, int]:
        try:
            with _pcsc_errors(self.reader_name, connected=True):
                data, sw1, sw2 = self._connection.transmit(list(apdu))
        except PcscError:
            # a card pulled out mid-command first shows as "transaction failed" or an empty
            # response; pcscd reports "removed" once its next presence poll has run
            if self._removed_within(REMOVAL_GRACE_SECONDS):
                raise CardRemoved() from None
            raise
        return bytes(data), sw1, sw2

    def _removed_within(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with _pcsc_errors(self.reader_name, connected=True):
                    self._connection.getATR()
            except CardRemoved:
                return True
            except CardError:
                return False
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        data, sw1, sw2 = self._send(apdu)
        if sw1 == 0x6C:  # T=0: wrong Le, resend with the length the card asks for
            data, sw1, sw2 = self._send(apdu[:-1] + bytes([sw2]))
        while sw1 == 0x61:  # T=0: more data waiting, GET RESPONSE
            more, sw1, sw2 = self._send(bytes([0x00, 0xC0, 0x00, 0x00, sw2]))
            data += more
        return data, (sw1 << 8) | sw2

    def close(self) -> None:
        try:
            with _pcsc_errors(self.reader_name, connected=True):
                self._connection.disconnect()
                self._connection.release()
        except CardError:
            pass  # the card or the service is already gone: nothing left to close


def connect(reader: str | None = None) -> PcscTransport:
    """Connect to the card in ``reader`` (exact name or prefix), or in the first reader holding one."""
    for candidate in _matching(reader):
        try:
            return PcscTransport(candidate)
        except (NoCard, CardRemoved):
            continue
    raise NoCard(reader)


def card_present(reader: str) -> bool:
    """Whether pcscd sees a card in ``reader`` now (connects without disturbing the card)."""
    try:
        for candidate in _matching(reader):
            PcscTransport(candidate, disposition=SCARD_LEAVE_CARD).close()
            return True
    except (NoCard, CardRemoved):
        return False
    return False


def wait_for_card(reader: str, present: bool = True, timeout: float = 5.0) -> None:
    """Poll until pcscd sees a card in ``reader`` (or none, with ``present=False``); pcscd itself
    polls its readers, so a new card shows up within about 1.5 s. ``TimeoutError`` otherwise."""
    deadline = time.monotonic() + timeout
    while card_present(reader) != present:
        if time.monotonic() > deadline:
            state = "a card" if present else "no card"
            raise TimeoutError(f"reader {reader!r} did not show {state} within {timeout} s")
        time.sleep(0.05)
