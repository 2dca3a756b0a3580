"""``eligsim disaster``: declared disaster periods (災害時モード); ``eligsim audit disaster-access``:
every disaster search and look of a period, the report a regulator asks for afterwards."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import click

from app.cli.common import open_registry
from app.service import disasters
from app.service.audit import Actor
from payer_registry.eligibility import JAPAN
from payer_registry.presenting import jsonable

DAY = click.DateTime(formats=["%Y-%m-%d"])
REPORT_COLUMNS = (
    "seq",
    "at",
    "actor",
    "institution_code",
    "institution_name",
    "staff_id",
    "action",
    "category",
    "outcome",
    "person_id",
    "person_name",
)


@click.group()
def disaster() -> None:
    """Disaster periods: while one covers an institution's prefecture, it may search patients
    without a card and view their records without a consent."""


@disaster.command()
@click.option(
    "--prefecture",
    "prefectures",
    multiple=True,
    required=True,
    help="A prefecture code, 01 to 47 (repeat for several).",
)
@click.option("--from", "starts_on", required=True, type=DAY, help="First day, YYYY-MM-DD.")
@click.option("--until", "ends_on", required=True, type=DAY, help="Last day (included).")
@click.option("--name", help="What the disaster is called.")
def declare(
    prefectures: tuple[str, ...], starts_on: dt.datetime, ends_on: dt.datetime, name: str | None
) -> None:
    """Declare a disaster period for some prefectures (days in Japan's calendar)."""
    declaration = disasters.Declaration(prefectures, starts_on.date(), ends_on.date(), name)
    with open_registry().begin() as conn:
        period = disasters.declare(conn, declaration)
    click.echo(f"declared: {_line(period)}")


@disaster.command("list")
def list_periods() -> None:
    """Every declared disaster period, newest first: id, state, days, prefectures, name."""
    with open_registry().connect() as conn:
        found = disasters.periods(conn)
    for period in found:
        click.echo(_line(period))
    if not found:
        click.echo("no disaster period has been declared")


@disaster.command()
@click.argument("disaster_id", metavar="ID", type=int)
def end(disaster_id: int) -> None:
    """End a disaster period now (its id from `eligsim disaster list`)."""
    with open_registry().begin() as conn:
        period = disasters.end(conn, disaster_id)
    click.echo(f"ended: {_line(period)}")


def _line(period: dict[str, Any]) -> str:
    names = disasters.prefecture_names()
    covered = ", ".join(f"{code} {names[code]}" for code in period["prefectures"])
    name = f"\t{period['name']}" if period["name"] else ""
    return (
        f"{period['id']}\t{period['state']}\t{period['from']} to {period['until']}\t{covered}{name}"
    )


@click.command("disaster-access")
@click.option("--from", "first", required=True, type=DAY, help="First day, YYYY-MM-DD (Japan).")
@click.option("--until", "last", required=True, type=DAY, help="Last day (included).")
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json", "csv"]),
    default="text",
    show_default=True,
)
def disaster_access(first: dt.datetime, last: dt.datetime, output: str) -> None:
    """Every disaster search and look of a period, oldest first: when, which institution and
    staff, whom, what and the outcome; and which operator declared and ended the disaster periods
    covering it."""
    if last < first:
        raise click.BadParameter("the last day comes before the first", param_hint="--until")
    with open_registry().connect() as conn:
        entries = disasters.disaster_access(conn, first.date(), last.date())
    rows = [{**entry, "at": entry["at"].astimezone(JAPAN)} for entry in entries]
    if output == "json":
        click.echo(json.dumps(jsonable(rows), ensure_ascii=False, indent=2))
    elif output == "csv":
        click.echo(_csv(rows), nl=False)
    else:
        click.echo(_text(rows, first.date(), last.date()))


def _csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, REPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({name: jsonable(value) for name, value in row.items()} for row in rows)
    return buffer.getvalue()


def _text(rows: list[dict[str, Any]], first: dt.date, last: dt.date) -> str:
    lines = [f"disaster access from {first} to {last} (Japan time): {len(rows)} entries"]
    for row in rows:
        what = f"{row['action']} {row['category']}" if row["category"] else row["action"]
        parts = (f"{row['at']:%Y-%m-%d %H:%M:%S}", _who(row), what, row["outcome"], _whom(row))
        lines.append("  ".join(part for part in parts if part))
    return "\n".join(lines)


def _who(row: dict[str, Any]) -> str:
    if row["actor"] == Actor.OPERATOR:
        return f"operator {row['staff_id'] or '?'}"
    staff = f" staff {row['staff_id']}" if row["staff_id"] else ""
    return f"{row['institution_code']} {row['institution_name'] or '?'}{staff}"


def _whom(row: dict[str, Any]) -> str:
    """The person searched or looked at; nothing for a period declared or ended."""
    if row["actor"] == Actor.OPERATOR:
        return ""
    return f"person {row['person_id']} {row['person_name']}" if row["person_id"] else "nobody"
