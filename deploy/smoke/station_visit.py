"""A card visit through the reader station, inside the eligsim container: scripts/test-image runs
it there (`docker exec -i <container> python - <this file`) because the station answers only
requests from its own machine. The demo card goes into pcscd's virtual reader; the station, with
the front-desk page's token, runs a visit on it with the PIN and one consent. Prints the visit;
exits with the reason when any step fails."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from card_reader.vpcd import DEFAULT_PORT, exposed_addresses, reader_name

SERVICE = "http://127.0.0.1:8000"
READER = f"pcsc:{reader_name()}"
DEMO = Path("/var/lib/eligsim/demo/demo.json")
CARD_POLLS = 20
TOKEN = re.compile(r'<meta name="station-token" content="([^"]*)">')


def insert_card(card: str) -> subprocess.Popen[str]:
    """`eligsim card serve-virtual CARD`, returned once it says the card is in the reader."""
    server = subprocess.Popen(
        ["eligsim", "card", "serve-virtual", card], stderr=subprocess.PIPE, text=True
    )
    assert server.stderr is not None
    for line in server.stderr:
        if line.strip() == "card in the reader":
            return server
    sys.exit(f"the card never reached pcscd's reader (serve-virtual ended: {server.wait()})")


def station_visit(session: requests.Session, pin: str) -> dict[str, Any]:
    page = session.get(f"{SERVICE}/", timeout=10)
    token = TOKEN.search(page.text)
    if page.status_code != 200 or token is None:
        sys.exit(f"the front-desk page answered {page.status_code} without a station token")
    station = session.get(f"{SERVICE}/frontdesk/api/station", timeout=10).json()
    if READER not in [reader["id"] for reader in station["readers"]]:
        sys.exit(f"the station lists no {READER}: {station['notes']}")
    for _ in range(CARD_POLLS):  # pcscd sees the card at its next poll of the reader
        answer = session.post(
            f"{SERVICE}/frontdesk/api/visits",
            json={"reader": READER, "pin": pin, "consents": {"medication": True}},
            headers={"X-Station-Token": token.group(1)},
            timeout=30,
        )
        if answer.status_code != 409 or answer.json()["error"]["code"] != "NO_CARD":
            break
        time.sleep(0.5)
    if answer.status_code != 201:
        sys.exit(f"the station's visit answered {answer.status_code}: {answer.text}")
    opened: dict[str, Any] = answer.json()
    return opened


def main() -> None:
    exposed = exposed_addresses(DEFAULT_PORT)
    if exposed:
        sys.exit(f"the virtual reader's card port is open beyond loopback: {exposed}")
    demo = json.loads(DEMO.read_text(encoding="utf-8"))
    server = insert_card(demo["card"])
    try:
        opened = station_visit(requests.Session(), demo["pin"])
    finally:
        server.terminate()
    validity = opened["eligibility"]["validity"]
    consents = [consent["category"] for consent in opened["consents"]]
    print(f"visit {opened['visit_id']} through {READER}: {validity}, consents {consents}")
    if validity != "valid" or consents != ["medication"]:
        sys.exit("expected a valid qualification and the medication consent")


if __name__ == "__main__":
    main()
