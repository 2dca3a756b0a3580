"""How the JPKI client talks to a card: ``transmit(apdu) -> (data, sw)``, whatever carries the bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from card_reader.virtual_card import VirtualCard


class Transport(Protocol):
    reader_name: str
    atr: bytes

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        """Send one command APDU; return the response data and the status word (e.g. 0x9000)."""
        ...

    def close(self) -> None: ...


class InProcessTransport:
    """A virtual card called directly, without PC/SC: for fast tests and in-process benches."""

    def __init__(self, card: VirtualCard, reader_name: str = "in-process virtual card") -> None:
        self.card = card
        self.reader_name = reader_name
        self.atr = card.atr
        card.insert()

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        response = self.card.transmit(apdu)
        return response[:-2], int.from_bytes(response[-2:], "big")

    def close(self) -> None:
        self.card.reset()


def open_transport(reader: str | None = None, card_file: Path | None = None) -> Transport:
    """The virtual card in ``card_file`` in process, or else the card in the PC/SC reader named
    ``reader`` (exact name or prefix; the first reader holding a card when None)."""
    if card_file is not None:
        return InProcessTransport(
            VirtualCard.load(card_file), f"in-process virtual card {card_file}"
        )
    from card_reader import pcsc  # pyscard is needed only for real readers

    return pcsc.connect(reader)
