"""The compose deployment's checks, run inside its containers by scripts/test-compose
(`exec -i <container> python - MODE ...`, this file on standard input):

    api URL     in a service container: a check by numbers and a batch pre-check through URL (the
                proxy), with the demo clinic's key; the batch is done by an RQ worker
    terminal    in the terminal's container: a request file in /srv/oqs/req answered in /srv/oqs/res

Both ask about the holder of the demo's first card. Each prints what it saw; it exits with the reason
when a step fails."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

DEMO = Path("/var/lib/eligsim/demo/demo.json")
TERMINAL = Path("/srv/oqs")
WAIT_SECONDS = 60


def demo_person() -> tuple[dict[str, Any], str]:
    """The demo clinic's settings and the insured number of its first card's holder."""
    demo = json.loads(DEMO.read_text(encoding="utf-8"))
    return demo, demo["cards"][0]["insured_number"]


def birth_date(insured_number: str) -> str:
    shown = subprocess.run(
        ["eligsim", "registry", "show", insured_number], capture_output=True, text=True, check=True
    )
    date: str = json.loads(shown.stdout)["record"]["birth_date"]
    return date


def inquiry(insured_number: str) -> dict[str, str]:
    insurer, symbol, number, branch = insured_number.split(":")
    return {
        "insurer_number": insurer,
        "symbol": symbol,
        "number": number,
        "branch": branch,
        "birth_date": birth_date(insured_number),
    }


def until(what: str, done: Any) -> Any:
    """``done()``'s first true answer, polled for WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        answer = done()
        if answer:
            return answer
        time.sleep(0.5)
    sys.exit(f"{what}: nothing after {WAIT_SECONDS} s")


def expect(response: requests.Response, status: int) -> dict[str, Any]:
    if response.status_code != status:
        sys.exit(
            f"{response.request.method} {response.url}: {response.status_code} {response.text}"
        )
    body: dict[str, Any] = response.json()
    return body


def check_api(url: str) -> None:
    demo, number = demo_person()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {demo['api_key']}"
    api = f"{url}/api/v1"
    asked = inquiry(number)
    checked = expect(session.post(f"{api}/eligibility-checks", json=asked, timeout=30), 200)
    print(f"check by numbers {number}: {checked['eligibility']['validity']}")
    if checked["eligibility"]["validity"] != "valid":
        sys.exit("expected a valid qualification")
    batch = {"inquiries": [asked, {**asked, "number": "0000"}]}
    accepted = expect(session.post(f"{api}/batches", json=batch, timeout=30), 202)
    reception = accepted["reception_number"]

    def finished() -> dict[str, Any] | None:
        status = expect(session.get(f"{api}/batches/{reception}", timeout=30), 200)
        return status if status["status"] in ("done", "failed") else None

    status = until(f"batch {reception}", finished)
    print(f"batch {reception}: {status['status']}, {status['normal']} found, {status['error']} not")
    if (status["status"], status["normal"], status["error"]) != ("done", 1, 1):
        sys.exit("expected the batch done with one person found and one not")


def check_terminal() -> None:
    _, number = demo_person()
    asked = inquiry(number)
    name = f"OQSsiquc01req_smoke{int(time.time())}.xml"
    request = TERMINAL / "req" / name
    partial = request.with_suffix(".part")
    partial.write_text(individual_request(asked), encoding="utf-8")
    partial.rename(request)
    result = TERMINAL / "res" / name.replace("req", "res", 1)
    text = until(f"the result {result}", lambda: result.exists() and result.read_text("utf-8"))
    valid = "<QualificationValidity>1</QualificationValidity>" in text
    print(f"terminal: {request.name} answered in {result.name}, {'valid' if valid else text}")
    if not valid:
        sys.exit("expected a valid qualification in the result")


def individual_request(asked: dict[str, str]) -> str:
    """An individual inquiry (個別照会) as front-desk software writes it (docs/terminal.md)."""
    today = time.strftime("%Y%m%d")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<XmlMsg><MessageHeader>'
        f"<QualificationConfirmationDate>{today}</QualificationConfirmationDate>"
        "<MedicalInstitutionCode>1311234567</MedicalInstitutionCode>"
        "<ArbitraryFileIdentifier>SMOKE</ArbitraryFileIdentifier>"
        "</MessageHeader><MessageBody><QualificationConfirmSearchInfo>"
        f"<InsurerNumber>{asked['insurer_number']}</InsurerNumber>"
        f"<InsuredCardSymbol>{asked['symbol']}</InsuredCardSymbol>"
        f"<InsuredIdentificationNumber>{asked['number']}</InsuredIdentificationNumber>"
        f"<InsuredBranchNumber>{asked['branch']}</InsuredBranchNumber>"
        f"<Birthdate>{asked['birth_date'].replace('-', '')}</Birthdate>"
        "<LimitApplicationCertificateRelatedConsFlg>0</LimitApplicationCertificateRelatedConsFlg>"
        "</QualificationConfirmSearchInfo></MessageBody></XmlMsg>\n"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["api"] and len(sys.argv) == 3:
        check_api(sys.argv[2])
    elif sys.argv[1:] == ["terminal"]:
        check_terminal()
    else:
        sys.exit(__doc__)
