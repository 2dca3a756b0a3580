"""The ``eligsim`` command: one group that gathers each package's commands."""

from __future__ import annotations

import json
from pathlib import Path

import click

from card_reader.cli import card
from card_reader.demo import demo
from card_reader.scenario_cards import issue_scenario_cards
from payer_registry.access.cli import audit_group, institution, payer
from payer_registry.cli import CommandHooks, registry
from payer_registry.db import RegistryUnavailable
from payer_registry.settings import SettingsError, load_settings


class FriendlyGroup(click.Group):
    """Turns the errors a user can cause or fix into one clear line and exit status 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (RegistryUnavailable, SettingsError) as error:
            raise click.ClickException(str(error)) from None


@click.group(cls=FriendlyGroup)
@click.version_option(package_name="eligsim")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Simulator of Japan's online eligibility verification (オンライン資格確認)."""
    ctx.obj = CommandHooks(issue_scenario_cards=issue_scenario_cards)


for group in (registry, card, institution, payer, audit_group, demo):
    main.add_command(group)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, workers: int) -> None:
    """Run the HTTP API with gunicorn."""
    from app.serve import serve as run

    run(host, port, workers)


@main.command()
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout."
)
def openapi(out: Path | None) -> None:
    """Print the service's OpenAPI document (the one kept in docs/openapi.json)."""
    from app.openapi import openapi_document

    text = json.dumps(openapi_document(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if out:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text, nl=False)


@main.command()
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
def worker(burst: bool) -> None:
    """Run an RQ worker for batch pre-checks and payer uploads (needs REDIS_URL)."""
    from payer_registry.jobs import QueueUnavailable, run_worker

    settings = load_settings()
    if not settings.redis_url:
        raise click.ClickException(
            "REDIS_URL is not set: without Redis the service runs batches itself"
        )
    try:
        run_worker(settings.redis_url, settings.job_queue, burst)
    except QueueUnavailable as error:
        raise click.ClickException(str(error)) from None


if __name__ == "__main__":
    main()
