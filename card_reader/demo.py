"""``eligsim demo``: a scripted front-desk visit against a running service, printing each step;
``eligsim demo setup`` prepares its institution, key and cards (see :mod:`card_reader.demo_setup`).

The visit: challenge → certificate → PIN (or face) → signature → verification → eligibility →
consents → medications and checkups under consent → clinical records without consent, refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from card_reader.client import FrontDeskClient, FrontDeskError
from card_reader.demo_setup import (
    CONFIG_FILE,
    DEFAULT_URL,
    DEMO_PIN,
    DemoSetupError,
    default_dir,
    load_config,
    set_up,
)
from card_reader.errors import CardError
from card_reader.face_reader import FaceReader
from payer_registry.settings import load_settings

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


class _DemoGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except FrontDeskError as error:
            raise click.ClickException(str(error)) from None
        except CardError as error:
            raise click.ClickException(f"{error} [{error.code}]") from None
        except DemoSetupError as error:
            raise click.ClickException(str(error)) from None


@click.group(cls=_DemoGroup, invoke_without_command=True)
@click.option("--url", help=f"The running service [default: from demo.json, else {DEFAULT_URL}].")
@click.option("--api-key", help="An institution API key [default: from demo.json].")
@click.option(
    "--card",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A virtual card file used in process [default: from demo.json].",
)
@click.option("--reader", help="Use the card in this PC/SC reader instead (name or prefix).")
@click.option("--pin", help=f"The card's PIN [default: from demo.json, else {DEMO_PIN}].")
@click.option("--face", is_flag=True, help="Face mode: the demo face reader attests, no PIN.")
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Settings written by `eligsim demo setup` [default: <var>/demo/{CONFIG_FILE}].",
)
@click.pass_context
def demo(
    ctx: click.Context,
    url: str | None,
    api_key: str | None,
    card: Path | None,
    reader: str | None,
    pin: str | None,
    face: bool,
    config: Path | None,
) -> None:
    """Run a scripted visit against a running service (after `scripts/run`, with no options)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = load_settings()
    saved = load_config(config or default_dir(settings) / CONFIG_FILE)
    if api_key is None and saved is None:
        raise click.ClickException(
            "no demo set up: run `eligsim demo setup` (scripts/run does) or pass --api-key"
        )
    if card is None and reader is None and saved is not None:
        card = Path(saved.card)
    run = DemoRun(
        url or (saved.url if saved else DEFAULT_URL),
        api_key or saved.api_key,
        card,
        reader,
        pin or (saved.pin if saved else DEMO_PIN),
        face,
    )
    face_reader = FaceReader.load_or_create(settings.var_dir) if face else None
    run_demo(run, face_reader)


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


@demo.command()
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the key, cards and demo.json go [default: <var>/demo].",
)
@click.option("--url", default=DEFAULT_URL, show_default=True, help="The service the demo calls.")
def setup(out_dir: Path | None, url: str) -> None:
    """Demo institution, a fresh API key and three virtual cards (PIN 1234) on the seeded registry;
    running it again reuses them."""
    settings = load_settings()
    out_dir = out_dir or default_dir(settings)
    config = set_up(settings, out_dir, url)
    click.echo(f"demo institution {config.institution_code}; settings in {out_dir / CONFIG_FILE}")
    for card in config.cards:
        click.echo(f"card ({card.role}, PIN {config.pin}): {card.path}")
    click.echo(f"API key (also in {out_dir / 'api-key'}):")
    click.echo(config.api_key)
