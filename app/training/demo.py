"""The scripted front-desk visit of ``eligsim demo``, against a running service through the
integrators' client, printing each step (``app.training.demo_setup`` prepares its institution, key
and cards).

The visit: challenge → certificate → PIN (or face) → signature → verification → eligibility →
consents → medications and checkups under consent → clinical records without consent, refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from app.client import FrontDeskClient, FrontDeskError
from card_reader.face_reader import FaceReader

DEMO_CONSENTS = ("medication", "checkup")


@dataclass(frozen=True)
class DemoRun:
    url: str
    api_key: str
    card: Path | None
    reader: str | None
    pin: str
    face: bool


def _show(label: str, text: str) -> None:
    click.echo(f"{label + ':':<14}{text}")


def run_demo(run: DemoRun, face_reader: FaceReader | None = None) -> None:
    """The scripted visit, one line per step."""
    client = FrontDeskClient(run.url, run.api_key)
    health = client.health()
    _show("service", f"{run.url} ({health.get('status')}, database {health.get('database')})")
    visit = client.run_visit(
        run.card or run.reader,
        None if face_reader else run.pin,
        DEMO_CONSENTS,
        face_reader=face_reader,
        on_step=_show,
    )
    _show("eligibility", _summary(visit.eligibility))
    for consent in visit.consents:
        _show("consent", f"{consent['category']} until {consent['available_until']}")
    medications = client.medications(visit.visit_id, page_size=1)
    _show("medications", _latest(medications, "dispensed_on", "drug_name"))
    checkups = client.checkups(visit.visit_id, page_size=1)
    _show("checkups", _latest(checkups, "examined_on", "institution_name"))
    try:
        client.clinical(visit.visit_id)
        _show("clinical", "shown (unexpected: no consent was given)")
    except FrontDeskError as refusal:
        _show("clinical", f"refused without consent: {refusal}")
    click.echo(f"done: visit {visit.visit_id} ({visit.method} mode)")


def _summary(eligibility: dict) -> str:
    if eligibility["validity"] != "valid":
        return eligibility["validity"]
    number = ":".join(eligibility[k] for k in ("symbol", "number", "branch"))
    return (
        f"valid: {eligibility['name']} ({eligibility['name_kana']}), "
        f"{eligibility['insurer_number']} {eligibility['insurer_name']}, {number}, "
        f"co-pay {eligibility['copay_ratio']}%"
    )


def _latest(page: dict, date_key: str, name_key: str) -> str:
    if not page["items"]:
        return f"{page['total']} records"
    newest = page["items"][0]
    return f"{page['total']} records, newest {newest[date_key]} {newest[name_key]}"
