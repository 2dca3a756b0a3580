"""``eligsim demo``: a scripted front-desk visit against a running service; ``eligsim demo setup``
prepares its institution, key and cards."""

from __future__ import annotations

from pathlib import Path

import click

from app.settings import load_settings
from app.training.demo import DemoRun, run_demo
from app.training.demo_setup import (
    CONFIG_FILE,
    DEFAULT_URL,
    DEMO_PIN,
    default_dir,
    load_config,
    set_up,
)
from card_reader.face_reader import FaceReader


@click.group(invoke_without_command=True)
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
    if api_key is None:
        if saved is None:
            raise click.ClickException(
                "no demo set up: run `eligsim demo setup` (scripts/run does) or pass --api-key"
            )
        api_key = saved.api_key
    if card is None and reader is None and saved is not None:
        card = Path(saved.card)
    run = DemoRun(
        url or (saved.url if saved else DEFAULT_URL),
        api_key,
        card,
        reader,
        pin or (saved.pin if saved else DEMO_PIN),
        face,
    )
    face_reader = FaceReader.load_or_create(settings.var_dir) if face else None
    run_demo(run, face_reader)


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
