"""``eligsim disaster declare|list|end`` and ``eligsim audit disaster-access``: periods declared,
listed and ended, bad input refused in one line, and the report of a period's disaster access."""

import csv
import datetime as dt
import io
import json

import pytest

from payer_registry.eligibility import today_in_japan
from tests.api.conftest import CLINIC, bearer
from tests.api.test_disasters import found, view

TODAY = today_in_japan()


def days(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


def declare(run, *extra):
    return run("disaster", "declare", "--from", days(0), "--until", days(2), *extra)


def test_a_period_is_declared_listed_and_ended(run):
    assert run("disaster", "list").output == "no disaster period has been declared\n"
    result = declare(run, "--prefecture", "13", "--prefecture", "1", "--name", "首都直下地震")
    assert result.exit_code == 0
    line = f"1\topen\t{days(0)} to {days(2)}\t01 北海道, 13 東京都\t首都直下地震"
    assert result.output == f"declared: {line}\n"
    assert run("disaster", "list").output == f"{line}\n"

    ended = run("disaster", "end", "1")
    assert ended.exit_code == 0
    assert ended.output.startswith("ended: 1\tended\t")
    assert run("disaster", "list").output.startswith("1\tended\t")


def test_later_periods_are_listed_first_with_their_state(run):
    run("disaster", "declare", "--prefecture", "13", "--from", days(3), "--until", days(5))
    declare(run, "--prefecture", "27")
    states = [line.split("\t")[:2] for line in run("disaster", "list").output.splitlines()]
    assert states == [["2", "open"], ["1", "upcoming"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prefecture", "48"], "'48' is not a prefecture code (01 to 47)"),
        (["--prefecture", "東京"], "'東京' is not a prefecture code (01 to 47)"),
        (["--prefecture", "13", "--until", days(-1)], "the last day comes before the first"),
        (
            ["--prefecture", "13", "--from", days(-3), "--until", days(-1)],
            "the period would be over already",
        ),
        (
            ["--prefecture", "13", "--until", days(366)],
            "a period lasts at most 366 days",
        ),
        (["--prefecture", "13", "--name", "x" * 101], "at most 100 characters"),
    ],
)
def test_bad_declarations_are_refused_in_one_line(run, args, message):
    result = run("disaster", "declare", "--from", days(0), "--until", days(2), *args)
    assert result.exit_code == 1
    assert message in result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert run("disaster", "list").output == "no disaster period has been declared\n"


@pytest.mark.parametrize(
    "args",
    [
        ["--from", days(0), "--until", days(2)],  # no prefecture
        ["--prefecture", "13", "--from", "2025/01/01", "--until", days(2)],
    ],
)
def test_missing_or_malformed_options_are_usage_errors(run, args):
    result = run("disaster", "declare", *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_ending_an_unknown_or_ended_period_is_refused(run):
    assert run("disaster", "end", "9").output == "Error: no disaster period 9 [NOT_FOUND]\n"
    declare(run, "--prefecture", "13")
    run("disaster", "end", "1")
    again = run("disaster", "end", "1")
    assert again.exit_code == 1
    assert "disaster period 1 has already been ended" in again.output


def test_the_audit_lists_a_periods_disaster_access(run, client, keys, person, monkeypatch):
    monkeypatch.setenv("LOGNAME", "bousai")  # the operator's login name
    declare(run, "--prefecture", "13")
    [candidate] = found(client, keys["clinic"], staff_id="nurse-7")
    view(client, keys["clinic"], candidate["handle"], "/medications")
    client.get("/api/v1/visits/nope", headers=bearer(keys["clinic"]))  # not disaster access

    text = run("audit", "disaster-access", "--from", days(0), "--until", days(0)).output
    lines = text.splitlines()
    assert lines[0] == f"disaster access from {days(0)} to {days(0)} (Japan time): 3 entries"
    assert lines[1].endswith("  operator bousai  disaster_period disaster:1  declared")
    assert f"{CLINIC} 霞が関内科クリニック staff nurse-7  disaster_search  shown" in lines[2]
    assert lines[3].endswith(f"disaster_view medication  shown  person {person} 山田 太郎")

    args = ["audit", "disaster-access", "--from", days(0), "--until", days(0), "--format"]
    entries = json.loads(run(*args, "json").output)
    assert [(e["action"], e["person_id"], e["staff_id"]) for e in entries] == [
        ("disaster_period", None, "bousai"),
        ("disaster_search", person, "nurse-7"),
        ("disaster_view", person, "nurse-7"),
    ]
    assert entries[0]["at"].endswith("+09:00")
    rows = list(csv.DictReader(io.StringIO(run(*args, "csv").output)))
    assert [row["category"] for row in rows] == ["disaster:1", "", "medication"]
    assert [row["actor"] for row in rows] == ["operator", "institution", "institution"]
    assert rows[2]["institution_name"] == "霞が関内科クリニック"

    later = run("audit", "disaster-access", "--from", days(3), "--until", days(4)).output
    assert later == f"disaster access from {days(3)} to {days(4)} (Japan time): 0 entries\n"


def test_the_audit_shows_who_declared_and_ended_the_periods_covering_its_days(run, monkeypatch):
    """A period is often declared before its first day: its declaration is part of the report of
    its days, whenever it was made."""
    monkeypatch.setenv("LOGNAME", "bousai")
    run("disaster", "declare", "--prefecture", "13", "--from", days(3), "--until", days(5))
    declare(run, "--prefecture", "27")
    monkeypatch.setenv("LOGNAME", "shift-lead")
    run("disaster", "end", "2")

    def report(first: int, last: int) -> list[tuple]:
        args = ["--from", days(first), "--until", days(last), "--format", "json"]
        entries = json.loads(run("audit", "disaster-access", *args).output)
        return [(e["actor"], e["staff_id"], e["category"], e["outcome"]) for e in entries]

    assert report(3, 4) == [("operator", "bousai", "disaster:1", "declared")]
    assert report(0, 0) == [
        ("operator", "bousai", "disaster:1", "declared"),  # made today
        ("operator", "bousai", "disaster:2", "declared"),
        ("operator", "shift-lead", "disaster:2", "ended"),
    ]
    assert report(6, 7) == []


def test_the_audit_report_refuses_a_reversed_period(run):
    result = run("audit", "disaster-access", "--from", days(1), "--until", days(0))
    assert result.exit_code == 2
    assert "the last day comes before the first" in result.output
