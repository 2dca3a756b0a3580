"""``eligsim backup`` and ``eligsim restore``: an online backup of everything the service keeps, and
its restore into an empty target (docs/recovery.md)."""

from __future__ import annotations

from pathlib import Path

import click

from app.service.backup import BackupError, Manifest, back_up, manifest_digest, restore
from app.settings import load_settings


def _counts_line(manifest: Manifest) -> str:
    counts = manifest.counts
    return (
        f"{counts['persons']:,} persons, {counts['visits']:,} visits, "
        f"{counts['consents']:,} consents, {counts['audit_entries']:,} audit entries"
    )


@click.command()
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A new (or empty) directory for the backup; keep it apart from the service's machine.",
)
def backup(out: Path) -> None:
    """Back up the registry, the service state, the audit log, the JPKI authority and the card
    files while the service keeps serving. The backup holds health data and private keys: it is
    written readable by its owner only."""
    try:
        manifest = back_up(load_settings(), out)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"backed up the {manifest.database} database (schema {manifest.schema_revision}) "
        f"and {len(manifest.files) - 1} file(s) to {out}: {_counts_line(manifest)}"
    )
    click.echo(f"manifest sha256 {manifest_digest(out)} (note it apart from the backup)")


@click.command("restore")
@click.argument("source", type=click.Path(path_type=Path))
def restore_command(source: Path) -> None:
    """Restore a backup into an empty database and var directory (move the old ones away first):
    every digest is checked before anything is written, the schema is brought to the newest
    revision, then the audit chain and the counts are checked against the manifest."""
    try:
        report = restore(load_settings(), source)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    manifest = report.manifest
    click.echo(f"restored the backup of {manifest.created_at}: {_counts_line(manifest)}")
    click.echo(f"audit log intact: {report.audit_entries} entries")
