"""The ``eligsim`` command: one group gathering every command, and one translator that turns the
errors a user can cause or fix into one clear line and exit status 1 (never a traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from app.cli.accounts import audit_group, institution, payer
from app.cli.backup import backup, restore_command
from app.cli.card import card
from app.cli.demo import demo
from app.cli.disaster import disaster, disaster_access
from app.cli.registry import registry
from app.cli.terminal import terminal
from app.client import FrontDeskError
from app.service.accounts import AccessError
from app.service.errors import ServiceError
from app.service.jobs import QueueUnavailable
from app.settings import SettingsError, load_settings
from app.terminal.answers import UnknownInstitution
from app.training.demo_setup import DemoSetupError
from app.training.scenarios import ScenarioSetupError
from card_reader.errors import CardError
from payer_registry.card_links import CardLinkError
from payer_registry.db import RegistryUnavailable
from payer_registry.identifiers import IdentifierError

# errors whose message is the whole story
PLAIN_ERRORS = (
    RegistryUnavailable,
    SettingsError,
    CardLinkError,
    IdentifierError,
    AccessError,
    DemoSetupError,
    ScenarioSetupError,
    QueueUnavailable,
    FrontDeskError,
    UnknownInstitution,
)


def error_line(error: Exception) -> str | None:
    """The one line the user sees for ``error``, or None when it is a defect (shown in full)."""
    if isinstance(error, CardError | ServiceError):
        return f"{error} [{error.code}]"
    if isinstance(error, PLAIN_ERRORS):
        return str(error)
    return None


class FriendlyGroup(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except Exception as error:
            line = error_line(error)
            if line is None:
                raise
            raise click.ClickException(line) from None


@click.group(cls=FriendlyGroup)
@click.version_option(package_name="eligsim")
def main() -> None:
    """Simulator of Japan's online eligibility verification (オンライン資格確認)."""


audit_group.add_command(disaster_access)
for group in (registry, card, institution, payer, audit_group, disaster, demo, terminal):
    main.add_command(group)
for command in (backup, restore_command):
    main.add_command(command)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, workers: int) -> None:
    """Run the HTTP API with gunicorn."""
    from app.cli.serve import serve as run

    run(host, port, workers)


@main.command()
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout."
)
def openapi(out: Path | None) -> None:
    """Print the service's OpenAPI document (the one kept in docs/openapi.json)."""
    from app.factory import openapi_document

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
    from app.service.jobs import run_worker

    settings = load_settings()
    if not settings.redis_url:
        raise click.ClickException(
            "REDIS_URL is not set: without Redis the service runs batches itself"
        )
    run_worker(settings.redis_url, settings.job_queue, burst)


if __name__ == "__main__":
    main()
