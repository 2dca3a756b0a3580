"""Imports write in short transactions, all or nothing as the user sees it: a process killed while
it validates and stages leaves nothing visible (and its staged rows are dropped later); one killed
while it writes leaves an import that the next run completes, each person audited once."""

import datetime as dt
import json
import multiprocessing
import os
import sys

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from app.cli import main
from app.service import uploads
from app.service.audit import audit_log
from payer_registry import importer, staging
from payer_registry.db import Registry
from payer_registry.exporter import export_lines
from payer_registry.records import PERSON_RECORD
from payer_registry.repository import counts, find_person
from payer_registry.seeding import seed_population
from payer_registry.writer import (
    Incoming,
    RecordConflict,
    clear_registry,
    persons_written,
    upsert_record,
    write_records,
)
from tests.registry.conftest import BASE_RECORD, qualification

PERSONS = 20


def numbered(n: int) -> dict:
    return BASE_RECORD | {
        "qualifications": [qualification(f"06139992:12-34:{1000 + n}:01", "2015-04-01")]
    }


@pytest.fixture
def population(tmp_path):
    path = tmp_path / "population.jsonl"
    path.write_text("".join(json.dumps(numbered(n)) + "\n" for n in range(PERSONS)))
    return path


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(staging, "CHUNK_RECORDS", 3)
    monkeypatch.setattr(staging, "STAGE_EVERY", 5)


def killed_import(registry: Registry, path, where: str, after: int) -> None:
    """Run the operator's import in a child process that dies (``os._exit``, no clean-up at all)
    at the ``after``-th record staged, or at the end of the ``after``-th chunk written."""
    context = multiprocessing.get_context("fork")
    child = context.Process(target=_import_and_die, args=(registry.url, path, where, after))
    child.start()
    child.join(60)
    assert child.exitcode == 9


def _import_and_die(url: str, path, where: str, after: int) -> None:
    seen = 0

    def maybe_die(*_args) -> None:
        nonlocal seen
        seen += 1
        if seen == after:
            os._exit(9)

    if where == "staged":
        add = staging.Stager.add
        staging.Stager.add = lambda self, *args: (maybe_die(), add(self, *args))[1]
        importer.import_file(Registry(url), path, author="ope")
    else:
        registry = Registry(url)
        written = uploads._operator_audit("ope")
        importer.import_file(
            registry, path, author="ope", on_written=lambda c, p: (written(c, p), maybe_die())
        )
    os._exit(0)


@pytest.fixture
def import_entries(registry):
    """The persons of the import entries the test appended (PostgreSQL keeps the log between tests)."""
    with registry.connect() as conn:
        before = conn.execute(select(func.coalesce(func.max(audit_log.c.seq), 0))).scalar()

    def entries() -> list[int]:
        with registry.connect() as conn:
            found = select(audit_log.c.person_id).where(
                audit_log.c.action == "registry_import", audit_log.c.seq > before
            )
            return list(conn.execute(found).scalars())

    return entries


def staged_rows(registry: Registry) -> tuple[int, int]:
    with registry.connect() as conn:
        imports = conn.execute(select(func.count()).select_from(staging.staged_imports)).scalar()
        records = conn.execute(select(func.count()).select_from(staging.staged_records)).scalar()
    return imports, records


def test_killed_while_writing_the_next_run_completes_it(
    registry, population, small_chunks, import_entries
):
    killed_import(registry, population, "written", after=3)
    with registry.connect() as conn:
        assert counts(conn)["persons"] == 6  # two chunks of three committed, the third rolled back
    assert len(import_entries()) == 6

    completed = uploads.complete_imports(registry)

    assert [(found.author, found.written, result.written) for found, result in completed] == [
        ("ope", 6, PERSONS - 6)
    ]
    with registry.connect() as conn:
        assert counts(conn)["persons"] == PERSONS
        assert find_person(conn, f"06139992:12-34:{1000 + PERSONS - 1}:01") is not None
    entries = import_entries()
    assert len(entries) == len(set(entries)) == PERSONS  # each person audited once
    assert staged_rows(registry) == (0, 0)
    assert uploads.complete_imports(registry) == []


def test_killed_while_staging_nothing_is_visible_and_it_is_dropped(
    registry, population, small_chunks, import_entries, monkeypatch
):
    killed_import(registry, population, "staged", after=12)  # 10 staged, in two transactions
    with registry.connect() as conn:
        assert counts(conn)["persons"] == 0
    assert import_entries() == []
    assert staged_rows(registry) == (1, 10)

    assert uploads.complete_imports(registry) == []  # not abandoned yet: its process may be alive
    assert staged_rows(registry) == (1, 10)
    monkeypatch.setattr(staging, "ABANDONED_AFTER", dt.timedelta(0))
    assert uploads.complete_imports(registry) == []
    assert staged_rows(registry) == (0, 0)


def test_a_rejected_file_writes_nothing_and_leaves_nothing_staged(
    registry, population, small_chunks, import_entries
):
    lines = population.read_text().splitlines()
    lines[15] = json.dumps(numbered(15) | {"sex": "x"})
    population.write_text("\n".join(lines) + "\n")
    with pytest.raises(importer.ImportRejected) as rejected:
        uploads.import_registry_file(registry, population)
    assert [str(error) for error in rejected.value.errors] == [
        "line 16: sex: Must be one of: 1, 2, 3."
    ]
    with registry.connect() as conn:
        assert counts(conn)["persons"] == 0
    assert import_entries() == []
    assert staged_rows(registry) == (0, 0)


def test_the_cli_shows_progress_and_completes_an_interrupted_import(
    registry, population, small_chunks, monkeypatch
):
    killed_import(registry, population, "written", after=2)
    monkeypatch.setenv("DATABASE_URL", registry.url)
    monkeypatch.setattr(sys.modules["app.cli.registry"], "PROGRESS_EVERY", 0)
    other = population.with_name("other.jsonl")
    other.write_text(json.dumps(numbered(PERSONS)) + "\n")

    result = CliRunner().invoke(main, ["registry", "import", str(other)], catch_exceptions=False)

    assert result.exit_code == 0
    assert result.stdout == "imported 1 record(s)\n"
    progress = [line for line in result.stderr.splitlines() if line.startswith("written ")]
    assert progress[:2] == ["written 6 / 20 record(s)", "written 9 / 20 record(s)"]
    assert progress[-2:] == ["written 20 / 20 record(s)", "written 1 / 1 record(s)"]
    assert "completed an interrupted import by ope: 20 of 20 record(s) written" in result.stderr
    with registry.connect() as conn:
        assert counts(conn)["persons"] == PERSONS + 1


def exported(registry: Registry) -> list[str]:
    with registry.connect() as conn:
        return list(export_lines(conn))


def written_one_by_one(registry: Registry, incoming: list[Incoming], merge: bool) -> list:
    """Each record upserted on its own, one after the other: what a chunk must write."""
    outcomes: list = []
    with registry.begin() as conn:
        for item in incoming:
            try:
                outcomes.append(upsert_record(conn, item.record, merge, item.anchor))
            except RecordConflict:
                outcomes.append("conflict")
    return outcomes


def holding(*records: dict) -> dict:
    """The first record, holding the qualifications of them all."""
    return records[0] | {"qualifications": [q for r in records for q in r["qualifications"]]}


def changed_export(registry: Registry) -> list[dict]:
    """The registry's persons, exported, then changed as a payer's next file would change them:
    renamed, medications dropped, a qualification dropped; and new persons."""
    records = [json.loads(line) for line in exported(registry)]
    for n, record in enumerate(records):
        if n % 3 == 0:
            record["name"] = "改名 太郎"
        if n % 4 == 0:
            record["medications"] = []
        if n % 5 == 0 and len(record["qualifications"]) > 1:
            record["qualifications"] = record["qualifications"][1:]
    return records + [numbered(n) for n in range(5)]


def test_a_chunked_import_writes_what_upserting_each_record_writes(registry, tmp_path, monkeypatch):
    monkeypatch.setattr(staging, "CHUNK_RECORDS", 7)
    seed_population(registry, 120, seed=5, reference_date=dt.date(2026, 4, 1), workers=0)
    records = changed_export(registry)
    path = tmp_path / "changed.jsonl"
    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records))
    before = exported(registry)

    result = importer.import_file(registry, path)
    chunked = exported(registry)
    clear_registry(registry)
    seed_population(registry, 120, seed=5, reference_date=dt.date(2026, 4, 1), workers=0)
    assert exported(registry) == before
    loaded = [Incoming(PERSON_RECORD.load(record)) for record in records]
    written_one_by_one(registry, loaded, merge=False)

    assert (result.written, result.conflicts) == (len(records), [])
    assert chunked == exported(registry)
    assert chunked != before


@pytest.mark.parametrize("merge", [False, True], ids=["whole", "merged"])
def test_the_records_of_one_chunk_follow_one_another(registry, merge):
    """Within one chunk, a record sees the ones before it: the same number twice updates one person
    (the last name wins), an anchor finds the person a record before it registered, and a record
    whose numbers came to belong to two persons is left out, exactly as one by one."""
    renamed = qualification("06139992:12-34:1004:01", "2015-04-01") | {"insurer_name": "改称保険者"}
    records = [
        Incoming(numbered(0)),
        Incoming(numbered(0) | {"name": "山田 次郎"}),
        Incoming(numbered(1) | {"name": "山田 三郎"}, anchor="06139992:12-34:1000:01"),
        Incoming(numbered(2)),
        Incoming(holding(numbered(0), numbered(2))),
        Incoming(holding(numbered(3), {"qualifications": [renamed]})),
    ]
    loaded = [Incoming(PERSON_RECORD.load(item.record), item.anchor) for item in records]
    with registry.begin() as conn:
        upsert_record(conn, PERSON_RECORD.load(numbered(4)))
    start = exported(registry)

    one_by_one = written_one_by_one(registry, loaded, merge)
    expected = exported(registry)
    clear_registry(registry)
    with registry.begin() as conn:
        upsert_record(conn, PERSON_RECORD.load(numbered(4)))
    assert exported(registry) == start
    with registry.begin() as conn:
        outcomes = write_records(conn, loaded, merge)

    assert exported(registry) == expected
    kinds = ["conflict" if isinstance(o, RecordConflict) else "written" for o in outcomes]
    assert kinds == ["conflict" if o == "conflict" else "written" for o in one_by_one]
    assert ("conflict" in kinds) is merge  # whole records drop the number the conflict needs
    assert len(set(persons_written(outcomes))) == 3
