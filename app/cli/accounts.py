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
from app.settings import load_settings
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


_PREFIX = click.option(
    "--prefix", help="Revoke only this key: the 8 characters after esk_ (or the whole key)."
)


@institution.command("revoke-key")
@click.option("--code", required=True, help="The institution's code.")
@_PREFIX
def revoke_institution_key(code: str, prefix: str | None) -> None:
    """Revoke one API key of the institution, or all of them (a running service forgets a key
    within 10 seconds)."""
    with open_registry().begin() as conn:
        revoked = keys.revoke_institution_keys(conn, code, prefix)
    click.echo(f"revoked {revoked} key(s) of institution {code}")


@institution.command("rotate-key")
@click.option("--code", required=True, help="The institution's code.")
def rotate_institution_key(code: str) -> None:
    """Revoke every API key of the institution and print a new one alone on the last line."""
    with open_registry().begin() as conn:
        key = keys.rotate_institution_key(conn, code)
    click.echo(f"earlier keys of institution {code} revoked; its new API key:", err=True)
    click.echo(key)


@click.group()
def payer() -> None:
    """Payers (insurers) that register and end qualifications through the API."""


@payer.command("add")
@click.option("--name", required=True)
@click.option(
    "--insurer",
    "insurers",
    multiple=True,
    required=True,
    help="An insurer number (保険者番号) whose persons the account may write (repeat).",
)
def add_payer(name: str, insurers: tuple[str, ...]) -> None:
    """Register a payer account that writes the persons of its insurers only; prints its API key
    alone on the last line (shown only once)."""
    with open_registry().begin() as conn:
        key = keys.add_payer(conn, name, insurers)
    click.echo(
        f"payer {name} registered for insurers {', '.join(insurers)}; its API key:", err=True
    )
    click.echo(key)


@payer.command("list")
def list_payers() -> None:
    """Every payer account: id (what the key commands take), name, insurers, live keys."""
    with open_registry().connect() as conn:
        accounts = keys.payer_accounts(conn)
    for account in accounts:
        insurers = ", ".join(account.insurers) or "none"
        click.echo(
            f"{account.id}\t{account.name}\tinsurers: {insurers}\tlive keys: {account.live_keys}"
        )


_PAYER_ID = click.option(
    "--id", "payer_id", required=True, type=int, help="The account's id (eligsim payer list)."
)


@payer.command("revoke-key")
@_PAYER_ID
@_PREFIX
def revoke_payer_key(payer_id: int, prefix: str | None) -> None:
    """Revoke one API key of the payer account, or all of them (a running service forgets a key
    within 10 seconds)."""
    with open_registry().begin() as conn:
        revoked = keys.revoke_payer_keys(conn, payer_id, prefix)
    click.echo(f"revoked {revoked} key(s) of payer account {payer_id}")


@payer.command("rotate-key")
@_PAYER_ID
def rotate_payer_key(payer_id: int) -> None:
    """Revoke every API key of the payer account and print a new one alone on the last line."""
    with open_registry().begin() as conn:
        key = keys.rotate_payer_key(conn, payer_id)
    click.echo(f"earlier keys of payer account {payer_id} revoked; its new API key:", err=True)
    click.echo(key)


@click.group("audit")
def audit_group() -> None:
    """The append-only audit log: its keyed chain, checkpoints and keys."""


@audit_group.command()
def verify() -> None:
    """Recompute the chain under the audit keys and hold it against audit_head and the checkpoints;
    exit 1 naming the first entry that was changed or removed, or how the log was cut or restarted."""
    settings = load_settings()
    trail = audit.AuditTrail.for_settings(settings)
    with open_registry().connect() as conn:
        report = audit.verify_chain(conn, trail)
    if not report.intact:
        where = f" at entry {report.first_broken}" if report.first_broken is not None else ""
        raise click.ClickException(
            f"audit log broken{where}: {report.reason} ({report.entries} entries read)"
        )
    anchor = report.checkpoint
    anchored = (
        f", up to checkpoint {anchor.seq} of {anchor.at}" if anchor else ", no checkpoint yet"
    )
    click.echo(f"audit log intact: {report.entries} entries{anchored}")


@audit_group.command()
def checkpoint() -> None:
    """Append the newest entry's sequence number and digest, signed, to the checkpoint file."""
    settings = load_settings()
    trail = audit.AuditTrail.for_settings(settings)
    written = trail.checkpoint(open_registry().engine)
    click.echo(f"checkpoint {written.seq} written to {trail.checkpoints}")


@audit_group.command("rotate-key")
def rotate_key() -> None:
    """Add a new audit key: entries are signed with it once the service restarts; the old keys stay
    in the key file to verify the entries they signed."""
    settings = load_settings()
    new_id = audit.rotate_key(settings)
    click.echo(
        f"new audit key {new_id} added to {settings.audit_key_file}; restart the service and "
        "its workers to sign with it"
    )
