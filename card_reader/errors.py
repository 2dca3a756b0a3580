"""Typed card errors, each with a stable code and a one-line message fit for a terminal."""

from __future__ import annotations


class CardError(Exception):
    """Base of every error raised by ``card_reader``; ``code`` is stable, the message is for people."""

    code = "CARD_ERROR"


class NoPcscService(CardError):
    code = "NO_PCSC_SERVICE"

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "no PC/SC service: pcscd is not running (start it with scripts/pcscd/run)"
            + (f" [{detail}]" if detail else "")
        )


class NoReader(CardError):
    code = "NO_READER"

    def __init__(self, name: str | None = None) -> None:
        super().__init__(f"no card reader named {name!r}" if name else "no card reader connected")


class NoCard(CardError):
    code = "NO_CARD"

    def __init__(self, reader: str | None = None) -> None:
        super().__init__(f"no card in reader {reader!r}" if reader else "no card in any reader")


class NotMyNumberCard(CardError):
    code = "NOT_MY_NUMBER_CARD"

    def __init__(self, detail: str = "the JPKI application is absent") -> None:
        super().__init__(f"not a My Number Card: {detail}")


class WrongPin(CardError):
    code = "WRONG_PIN"

    def __init__(self, tries_left: int) -> None:
        super().__init__(f"wrong PIN: {tries_left} tries left")
        self.tries_left = tries_left


class PinLocked(CardError):
    code = "PIN_LOCKED"

    def __init__(self) -> None:
        super().__init__("PIN locked: only the municipal office can unlock this card")


class PinLastTry(CardError):
    code = "PIN_LAST_TRY"

    def __init__(self) -> None:
        super().__init__(
            "one PIN try left: refusing to send the PIN, a mistake would lock the card (force it to try)"
        )


class InvalidPin(CardError):
    code = "INVALID_PIN"

    def __init__(self, rule: str) -> None:
        super().__init__(f"invalid PIN format: {rule}; nothing was sent to the card")


class PinNotVerified(CardError):
    code = "PIN_NOT_VERIFIED"

    def __init__(self) -> None:
        super().__init__("the card refused: PIN not verified (security status not satisfied)")


class CardRemoved(CardError):
    code = "CARD_REMOVED"

    def __init__(self) -> None:
        super().__init__("the card was removed during the session")


class UnexpectedStatus(CardError):
    code = "UNEXPECTED_STATUS"

    def __init__(self, sw: int, step: str) -> None:
        super().__init__(f"unexpected status word {sw:04X} from the card during {step}")
        self.sw = sw


class PcscError(CardError):
    code = "PCSC_ERROR"

    def __init__(self, detail: str) -> None:
        super().__init__(f"PC/SC error: {detail}")


class CardFileError(CardError):
    code = "CARD_FILE"

    def __init__(self, path: object, detail: str) -> None:
        super().__init__(f"card file {path}: {detail}")
