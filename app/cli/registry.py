"""``eligsim registry``: create, seed, import, export and inspect the payers' registry."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from app.cli.common import open_registry
from app.service.uploads import complete_imports, import_registry_file
from app.settings import load_settings
from app.training.scenario_cards import issue_scenario_cards
from app.training.scenario_doc import markdown, summary_lines
from app.training.scenarios import PIN, scenarios, seed_scenarios
from payer_registry import exporter, importer
from payer_registry.confirmation import confirm_person
from payer_registry.db import Registry
from payer_registry.eligibility import today_in_japan
from payer_registry.identifiers import IdentifierError, parse_insured_number
from payer_registry.presenting import confirmation_dict, jsonable
from payer_registry.repository import counts, find_person
from payer_registry.writer import clear_registry


@click.group()
def registry() -> None:
    """The simulated payers' registry (SQLite by default, PostgreSQL with DATABASE_URL)."""


@registry.command()
def init() -> None:
    """Create the database, or bring its schema to the newest version."""
    reg = open_registry()
    click.echo(f"registry ready at {reg.safe_url}")


DEFAULT_PERSONS = 10_000


@registry.command()
@click.option(
    "--persons",
    type=click.IntRange(1, 10_000_000),
    help=f"Synthetic persons [default: {DEFAULT_PERSONS:,}, or none with --scenarios].",
)
@click.option("--seed", default=1, show_default=True, help="Same seed, same population.")
@click.option("--reset", is_flag=True, help="Delete every person first.")
@click.option(
    "--if-empty", is_flag=True, help="Add no population when the registry already has persons."
)
@click.option(
    "--scenarios",
    is_flag=True,
    help="Also (re)create the training scenarios' people and virtual cards (docs/scenarios.md).",
)
def seed(persons: int | None, seed: int, reset: bool, if_empty: bool, scenarios: bool) -> None:
    """Create a synthetic population with histories, and the training scenarios."""
    reg = open_registry()
    if reset:
        clear_registry(reg)
    if persons or not scenarios:
        _seed_population(reg, persons or DEFAULT_PERSONS, seed, if_empty and not reset)
    if scenarios:
        _seed_scenarios(reg)


def _seed_population(reg: Registry, persons: int, seed: int, if_empty: bool) -> None:
    from payer_registry.seeding import RegistryNotEmpty, seed_population

    if if_empty:
        with reg.connect() as conn:
            existing = counts(conn)["persons"]
        if existing:
            click.echo(f"registry already holds {existing:,} persons; leaving it as it is")
            return
    with click.progressbar(length=persons, label="seeding persons", file=sys.stderr) as bar:
        try:
            summary = seed_population(reg, persons, seed, progress=bar.update)
        except RegistryNotEmpty as error:
            raise click.ClickException(f"{error}; use --reset to replace them") from None
    click.echo(f"seeded {summary.persons} persons into {reg.safe_url}")


def _seed_scenarios(reg: Registry) -> None:
    """The scenario people, then their cards and manifest, then the table."""
    defined = seed_scenarios(reg, today_in_japan())
    manifest = issue_scenario_cards(load_settings(), defined)
    click.echo(f"scenario cards (PIN {PIN}) and {manifest} written")
    for line in summary_lines(defined):
        click.echo(line)


@registry.command("scenarios-doc")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here.")
def scenarios_doc(out: Path | None) -> None:
    """Print the training scenarios as Markdown (kept in docs/scenarios.md)."""
    text = markdown(scenarios(today_in_japan()))
    if out:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text, nl=False)


PROGRESS_EVERY = 1.0  # seconds between the progress lines of a long import


@registry.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--encoding", help="utf-8 or shift_jis (default: detected).")
@click.option("--skip-invalid", is_flag=True, help="Write the valid lines; rejects go beside FILE.")
def import_(file: Path, encoding: str | None, skip_invalid: bool) -> None:
    """Import person records from JSON Lines (.jsonl) or CSV (.csv); upsert by insured number.
    Each person written is audited under the operator's login name. The file is validated whole
    first and written in short transactions; an import that was interrupted (its process killed)
    once validated is completed first, from where it stopped."""
    reg = open_registry()
    for found, completed in complete_imports(reg, _progress()):
        click.echo(
            f"completed an interrupted import by {found.author or 'an unnamed operator'}: "
            f"{found.written + completed.written} of {found.total} record(s) written",
            err=True,
        )
        _report_conflicts(completed.conflicts)
    try:
        result = import_registry_file(reg, file, encoding, skip_invalid, _progress())
    except importer.ImportRejected as rejected:
        for error in rejected.errors:
            click.echo(str(error), err=True)
        raise click.ClickException(f"{file}: {rejected}") from None
    except importer.ImportFileError as error:
        raise click.ClickException(str(error)) from None
    if result.rejected:
        rejects = file.with_name(f"{file.stem}.rejects{file.suffix}")
        rejects.write_text(result.rejects_text(), encoding="utf-8")
        for line_error in result.errors:
            click.echo(str(line_error), err=True)
        click.echo(f"{len(result.rejected)} invalid line(s) written to {rejects}", err=True)
    _report_conflicts(result.conflicts)
    click.echo(f"imported {result.written} record(s)")


def _progress() -> importer.Progress:
    """Prints ``written N / total`` on stderr at most every ``PROGRESS_EVERY`` seconds, and the
    last count once it printed any."""
    shown_at, shown = time.monotonic(), False

    def told(written: int, total: int) -> None:
        nonlocal shown_at, shown
        now = time.monotonic()
        if now - shown_at >= PROGRESS_EVERY or (written == total and shown):
            click.echo(f"written {written:,} / {total:,} record(s)", err=True)
            shown_at, shown = now, True

    return told


def _report_conflicts(conflicts: list[importer.LineError]) -> None:
    for error in conflicts:
        click.echo(str(error), err=True)


@registry.command()
@click.option("--out", type=click.Path(path_type=Path), help="Write here instead of stdout.")
def export(out: Path | None) -> None:
    """Export every person as JSON Lines, in the format import reads."""
    reg = open_registry()
    target = out.open("w", encoding="utf-8") if out else sys.stdout
    written = 0
    try:
        with reg.connect() as conn:
            for line in exporter.export_lines(conn):
                target.write(line + "\n")
                written += 1
    finally:
        if out:
            target.close()
    if out:
        click.echo(f"exported {written} person(s) to {out}", err=True)


@registry.command()
@click.argument("number")
@click.option("--at", type=click.DateTime(["%Y-%m-%d"]), help="Confirmation date (default today).")
def show(number: str, at) -> None:
    """Print one person's record and eligibility as JSON (NUMBER is INSURER:SYMBOL:NUMBER:BRANCH)."""
    try:
        canonical = str(parse_insured_number(number))
    except IdentifierError as error:
        raise click.ClickException(f"{number}: {error}") from None
    reg = open_registry()
    with reg.connect() as conn:
        person = find_person(conn, canonical)
        if person is None:
            raise click.ClickException(f"no insured person with number {canonical}")
        record = exporter.person_records(conn, [person.id])[0]
        eligibility = confirm_person(conn, person.id, at.date() if at else today_in_japan())
    output = {
        "record": json.loads(exporter.to_json_line(record)),
        "eligibility": jsonable(confirmation_dict(eligibility)),
    }
    click.echo(json.dumps(output, ensure_ascii=False, indent=2))


@registry.command()
def stats() -> None:
    """Print row counts."""
    reg = open_registry()
    with reg.connect() as conn:
        for table, count in counts(conn).items():
            click.echo(f"{table:32} {count:>12,}")
