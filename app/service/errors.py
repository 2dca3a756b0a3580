"""The use cases' one error type: a stable machine-readable code, a message and details.

The codes and their meanings are listed here; only the web layer gives them HTTP statuses."""

from __future__ import annotations

from typing import Any, ClassVar

from card_reader.errors import CardError, WrongPin

# Every code the use cases raise, and what it means to the caller.
SERVICE_ERRORS = {
    "VALIDATION_FAILED": "the request failed validation; details lists each field",
    "NOT_FOUND": "no such resource, or not yours to see",
    "AUTH_INVALID": "the API key (or portal token) is unknown, revoked or expired",
    "CHALLENGE_INVALID": "the card session's challenge is unknown, expired or already used",
    "CERT_UNTRUSTED": "the card's certificate does not chain to a trusted JPKI root",
    "CERT_EXPIRED": "the card's certificate (or its root) has expired",
    "CERT_NOT_YET_VALID": "the card's certificate is not valid yet",
    "CERT_REVOKED": "the card's certificate is revoked (lost, renewed or returned card)",
    "CERT_KEY_USAGE": "the certificate may not be used for digital signatures",
    "SIGNATURE_INVALID": "the signature over the challenge does not verify",
    "REVOCATION_UNKNOWN": "the revocation source gave no trustworthy answer; retry",
    "CARD_NOT_LINKED": "the card is valid but not linked to an insured person",
    "CONSENT_NOT_OFFERED": "the institution's reader does not offer this consent category",
    "CONSENT_REQUIRED": "the patient has not consented to show this category to this institution",
    "CONSENT_EXPIRED": "the consent has expired; verify the card again to renew it",
    "DISASTER_ACCESS_FORBIDDEN": (
        "no declared disaster period covers the institution's prefecture now (or the one the "
        "search was made under has ended)"
    ),
    "DISASTER_SEARCH_INCOMPLETE": (
        "a disaster search needs a name or kana, the birth date and the sex; details.missing"
    ),
    "DISASTER_SEARCH_TOO_BROAD": (
        "more people match than a disaster search lists; add the address or the other name"
    ),
    "BATCH_QUEUE_UNAVAILABLE": (
        "the background job queue (Redis) is unavailable; card and number checks still work"
    ),
    "BATCH_BIRTH_DATE_PROBING": (
        "the batch repeats one insured number with more than 3 different birth dates"
    ),
    "INQUIRY_FAILED": "this batch line could not be answered; the batch's other lines were",
    "TOO_MANY_RECORDS": "more records than this endpoint takes at once; use the upload endpoint",
    "RECORD_CONFLICT": "a record's insured numbers belong to different registered persons",
    "PAYER_INSURER_FORBIDDEN": "the payer account may not write persons of this insurer",
    "STATION_NOT_READY": (
        "the reader station has no institution key: run scripts/run or `eligsim demo setup`"
    ),
    "NO_READER": "the reader station has no such reader (or it was unplugged)",
    "NO_CARD": "no card in the reader",
    "CARD_REMOVED": "the card was removed during the session",
    "NOT_MY_NUMBER_CARD": "the card in the reader is not a My Number Card",
    "WRONG_PIN": "wrong PIN; details.tries_left says how many tries remain",
    "PIN_LAST_TRY": "one PIN try left: send again with force to risk locking the card",
    "PIN_LOCKED": "the card's PIN is locked; only the municipal office can unlock it",
    "NO_PCSC_SERVICE": "no PC/SC service (pcscd) on the reader station's machine",
    "CARD_ERROR": "the card or reader answered unexpectedly; details.card_code says how",
    "REGISTRY_UNAVAILABLE": "the registry database cannot be reached",
}


class CodedError(Exception):
    """An error with a stable code from its class's catalogue, a message and details."""

    catalogue: ClassVar[dict[str, str]]

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        if code not in self.catalogue:
            raise ValueError(f"{code} is not a code of {type(self).__name__}")
        super().__init__(message)
        self.code, self.message, self.details = code, message, details or {}


class ServiceError(CodedError):
    """A refusal of a use case, with a stable code from ``SERVICE_ERRORS``."""

    catalogue = SERVICE_ERRORS


def field_error(field: str, message: str) -> ServiceError:
    """A validation refusal naming one field of the request body."""
    return ServiceError("VALIDATION_FAILED", message, {"json": {field: [message]}})


def card_refusal(error: CardError) -> ServiceError:
    """A card or reader error as a refusal with the card stack's stable code."""
    code = error.code if error.code in SERVICE_ERRORS else "CARD_ERROR"
    details: dict[str, Any] = {"card_code": error.code}
    if isinstance(error, WrongPin):
        details["tries_left"] = error.tries_left
    return ServiceError(code, str(error), details)
