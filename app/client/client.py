"""A small client of the front-desk API (requests; importable without Flask), for integrators.

    client = FrontDeskClient("http://127.0.0.1:8000", api_key)
    visit = client.run_visit(Path("var/demo/cards/a.card"), pin="1234", consents=["medication"])
    client.medications(visit.visit_id, page_size=20)

``run_visit`` drives a whole card visit with a reader: a virtual card file in process, a PC/SC reader
by name (real, or the vpcd virtual reader), or any open transport. Every refusal of the API raises
``FrontDeskError`` with the API's stable code and message; failures the client sees itself use the
codes ``SERVICE_UNREACHABLE``, ``SERVICE_TIMEOUT``, ``BAD_RESPONSE`` and ``BATCH_TIMEOUT``. Card
problems raise the typed errors of :mod:`card_reader.errors`.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import partialmethod
from pathlib import Path

import requests
from cryptography import x509

from card_reader.face_reader import FaceReader
from card_reader.jpki import JpkiClient
from card_reader.transport import Transport, open_transport

API = "/api/v1"
FINISHED = ("done", "failed")
StepCallback = Callable[[str, str], None]  # (step name, what happened)


class FrontDeskError(Exception):
    """An error answered by the API (its stable code, message, HTTP status and details), or one the
    client met on the way (no HTTP status)."""

    def __init__(
        self, code: str, message: str, status: int | None = None, details: dict | None = None
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.details = code, message, status, details or {}

    def __str__(self) -> str:
        return f"{self.message} [{self.code}]"


@dataclass(frozen=True)
class VisitResult:
    visit_id: str
    method: str  # "pin" or "face"
    certificate_serial: int
    eligibility: dict
    consents: list[dict]


def _unreachable(base_url: str, error: requests.ConnectionError) -> FrontDeskError:
    reason = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(error))
    why = reason.group(1).strip() if reason else type(error).__name__
    return FrontDeskError("SERVICE_UNREACHABLE", f"cannot reach the service at {base_url}: {why}")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _iso(value: date | str | int | None) -> str | int | None:
    return value.isoformat() if isinstance(value, date) else value


class FrontDeskClient:
    """The front-desk endpoints of one service, called with one institution's API key."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout: float = 10.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = session or requests.Session()
        if api_key:
            self._http.headers["Authorization"] = f"Bearer {api_key}"

    def _call(
        self, method: str, path: str, body: dict | None = None, params: dict | None = None
    ) -> dict:
        try:
            response = self._http.request(
                method, self.base_url + API + path, json=body, params=params, timeout=self.timeout
            )
        except requests.Timeout:
            message = f"the service at {self.base_url} did not answer within {self.timeout} s"
            raise FrontDeskError("SERVICE_TIMEOUT", message) from None
        except requests.ConnectionError as error:
            raise _unreachable(self.base_url, error) from None
        return self._answer(response)

    def _answer(self, response: requests.Response) -> dict:
        try:
            document = response.json()
        except ValueError:
            document = None
        if response.ok and isinstance(document, dict):
            return document
        error = document.get("error") if isinstance(document, dict) else None
        if not isinstance(error, dict) or "code" not in error:
            message = f"HTTP {response.status_code} from {self.base_url} is not an eligsim answer"
            raise FrontDeskError("BAD_RESPONSE", message, response.status_code)
        raise FrontDeskError(
            error["code"], error.get("message", ""), response.status_code, error.get("details")
        )

    # -- endpoints ----------------------------------------------------------------------------

    def health(self) -> dict:
        return self._call("GET", "/health")

    def create_card_session(self) -> dict:
        """A single-use challenge: ``{session_id, challenge (base64), expires_at}``."""
        return self._call("POST", "/card-sessions")

    def verify_card(
        self,
        session_id: str,
        certificate: bytes,
        signature: bytes,
        consents: Iterable[str] = (),
        method: str = "pin",
        staff_id: str | None = None,
    ) -> dict:
        """Post the card's answer with the consent categories chosen at the reader; opens a visit."""
        body = {
            "certificate": _b64(certificate),
            "signature": _b64(signature),
            "method": method,
            "consents": dict.fromkeys(consents, True),
        }
        if staff_id is not None:
            body["staff_id"] = staff_id
        return self._call("POST", f"/card-sessions/{session_id}/verification", body)

    def check_eligibility(
        self,
        insurer_number: str,
        number: str,
        birth_date: date | str,
        symbol: str = "",
        branch: str | None = None,
        limit_certificate_consent: bool = False,
        confirmation_date: date | str | None = None,
    ) -> dict:
        """Eligibility from the numbers on an insurance card (no card, so no medical information)."""
        body = {
            "insurer_number": insurer_number,
            "symbol": symbol,
            "number": number,
            "branch": branch,
            "birth_date": _iso(birth_date),
            "limit_certificate_consent": limit_certificate_consent,
            "confirmation_date": _iso(confirmation_date),
        }
        return self._call("POST", "/eligibility-checks", body)["eligibility"]

    def visit(self, visit_id: str) -> dict:
        return self._call("GET", f"/visits/{visit_id}")

    def records(
        self,
        visit_id: str,
        kind: str,
        *,
        date_from: date | None = None,
        date_to: date | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> dict:
        """One page ``{total, page, page_size, items}`` of the visit's ``kind`` records
        (medications, checkups, clinical, surgeries), newest first; needs a live consent."""
        query = {"date_from": date_from, "date_to": date_to, "page": page, "page_size": page_size}
        params = {key: _iso(value) for key, value in query.items() if value is not None}
        return self._call("GET", f"/visits/{visit_id}/{kind}", params=params)

    medications = partialmethod(records, kind="medications")
    checkups = partialmethod(records, kind="checkups")
    clinical = partialmethod(records, kind="clinical")
    surgeries = partialmethod(records, kind="surgeries")

    def submit_batch(
        self, inquiries: list[dict], confirmation_date: date | str | None = None
    ) -> str:
        """Submit a batch pre-check (一括照会); returns its reception number (受付番号)."""
        body: dict = {"inquiries": inquiries}
        if confirmation_date is not None:
            body["confirmation_date"] = _iso(confirmation_date)
        return self._call("POST", "/batches", body)["reception_number"]

    def batch(self, reception_number: str) -> dict:
        """The batch's status, counts and one result per inquiry processed so far."""
        return self._call("GET", f"/batches/{reception_number}")

    def wait_for_batch(
        self, reception_number: str, timeout: float = 60.0, interval: float = 0.5
    ) -> dict:
        """Poll until the batch is done or failed; ``BATCH_TIMEOUT`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while (status := self.batch(reception_number))["status"] not in FINISHED:
            if time.monotonic() > deadline:
                message = f"batch {reception_number} still {status['status']} after {timeout} s"
                raise FrontDeskError("BATCH_TIMEOUT", message)
            time.sleep(interval)
        return status

    # -- a whole visit ------------------------------------------------------------------------

    def run_visit(
        self,
        reader: Transport | Path | str | None,
        pin: str | None,
        consents: Iterable[str] = (),
        face_reader: FaceReader | None = None,
        staff_id: str | None = None,
        on_step: StepCallback | None = None,
    ) -> VisitResult:
        """Challenge → certificate → PIN and the card's signature (or, with ``face_reader``, the
        reader's attestation and no PIN) → verification with ``consents``: the opened visit.

        ``reader``: a virtual card file (``Path``) used in process, a PC/SC reader name or prefix
        (``str``; ``None`` for the first reader holding a card), or an open transport (left open)."""
        if pin is None and face_reader is None:
            raise ValueError("PIN mode needs the PIN; give a face_reader for face mode")
        step = on_step or (lambda _name, _text: None)
        if isinstance(reader, Path):
            transport = open_transport(card_file=reader)
        elif reader is None or isinstance(reader, str):
            transport = open_transport(reader)
        else:
            return self._visit_with(reader, pin, consents, face_reader, staff_id, step)
        try:
            return self._visit_with(transport, pin, consents, face_reader, staff_id, step)
        finally:
            transport.close()

    def _visit_with(
        self,
        transport: Transport,
        pin: str | None,
        consents: Iterable[str],
        face_reader: FaceReader | None,
        staff_id: str | None,
        step: StepCallback,
    ) -> VisitResult:
        chosen = tuple(consents)  # read twice: the face reader attests them, the server gets them
        session = self.create_card_session()
        challenge = base64.b64decode(session["challenge"])
        step("challenge", f"{len(challenge)} bytes, single use, expires {session['expires_at']}")
        card = JpkiClient(transport)
        certificate = card.read_auth_certificate()
        serial = x509.load_der_x509_certificate(certificate).serial_number
        step("certificate", f"read from {transport.reader_name}: serial {serial:X}")
        if face_reader is not None:
            signature, method = face_reader.attest(challenge, certificate, chosen), "face"
            step("face", "face matched at the reader: no PIN; the reader attests the consents")
        else:
            signature, method = self._pin_signature(card, pin or "", challenge, step), "pin"
        step("signature", f"{len(signature)} bytes ({method} mode)")
        answer = self.verify_card(
            session["session_id"], certificate, signature, chosen, method, staff_id
        )
        step("verification", f"visit {answer['visit_id']}: {answer['eligibility']['validity']}")
        return VisitResult(
            answer["visit_id"], method, serial, answer["eligibility"], answer["consents"]
        )

    @staticmethod
    def _pin_signature(card: JpkiClient, pin: str, challenge: bytes, step: StepCallback) -> bytes:
        tries = card.auth_pin_tries_left()
        card.verify_auth_pin(pin)
        step("pin", f"PIN verified ({tries} tries left before, reset to 3)")
        return card.sign_challenge(challenge)
