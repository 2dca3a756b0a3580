"""``eligsim institution``, ``eligsim payer`` and ``eligsim audit``: accounts and the audit log."""

from __future__ import annotations

from pathlib import Path

import click
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.cli.common import open_registry
from app.service import accounts as keys
from app.service import audit
from app.service.consent import CATEGORIES
from payer_registry.identifiers import IdentifierError


@click.group()
def institution() -> None:
    """Medical institutions and pharmacies that call the API."""


@institution.command("add")
@click.option("--code", required=True, help="10-digit institution code (医療機関コード).")
@click.option("--name", required=True)
@click.option(
    "--kind", type=click.Choice(sorted(set(keys.KINDS.values()))), help="Checked against the code."
)
@click.option(
    "--offer",
    multiple=True,
    type=click.Choice(CATEGORIES),
    help="Consent categories its readers offer (repeat; default medication, checkup, limit_certificate, specific_diseases).",
)
def add_institution(code: str, name: str, kind: str | None, offer: tuple[str, ...]) -> None:
    """Register an institution; prints its API key alone on the last line (shown only once)."""
    with open_registry().begin() as conn:
        try:
            key = keys.add_institution(conn, code, name, kind, offer)
        except (IdentifierError, keys.AccessError) as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"institution {code} ({name}) registered; its API key:", err=True)
    click.echo(key)


@institution.command("add-reader")
@click.option("--code", required=True, help="The institution's code.")
@click.option("--name", required=True, help="A name for the reader.")
@click.option(
    "--public-key", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def add_reader(code: str, name: str, public_key: Path) -> None:
    """Register a face-recognition reader's public key (PEM) for face-mode attestations."""
    pem = public_key.read_bytes()
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        raise click.ClickException(f"{public_key}: not a PEM public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise click.ClickException(f"{public_key}: a reader key must be RSA")
    with open_registry().begin() as conn:
        if keys.institution(conn, code) is None:
            raise click.ClickException(f"no institution {code}; add it first")
        keys.add_reader_key(conn, code, name, pem.decode("ascii"))
    click.echo(f"reader {name} registered for institution {code}")


@click.group()
def payer() -> None:
    """Payers (insurers) that register and end qualifications through the API."""


@payer.command("add")
@click.option("--name", required=True)
def add_payer(name: str) -> None:
    """Register a payer account; prints its API key alone on the last line (shown only once)."""
    with open_registry().begin() as conn:
        key = keys.add_payer(conn, name)
    click.echo(f"payer {name} registered; its API key:", err=True)
    click.echo(key)


@click.group("audit")
def audit_group() -> None:
    """The append-only audit log."""


@audit_group.command()
def verify() -> None:
    """Recompute the hash chain; exit 1 naming the first entry that was changed or removed."""
    with open_registry().connect() as conn:
        report = audit.verify_chain(conn)
    if not report.intact:
        raise click.ClickException(
            f"audit log broken at entry {report.first_broken}: {report.reason} ({report.entries} entries read)"
        )
    click.echo(f"audit log intact: {report.entries} entries")
