#!/usr/bin/env python3
"""Checks while long writes run (issue 11), everything on loopback, load from separate processes.

Eligibility checks by number through gunicorn (2 workers), driven by ``wrk``: their p99 with no long
write, while a 30,000-person ``eligsim registry import`` writes (the file is the synthetic
population exported, so every person is rewritten), and while an ``eligsim worker`` writes a
20,000-person payer upload; on SQLite and on PostgreSQL, side by side, each at full load and at a
steady offered rate (``--steady-rate``). Aim: p99 <= 50 ms during the import and the upload. Each
write is measured while it writes (its validation done) and is stopped after the measurement: the
figure is the checks' latency, not the write's duration.

Needs wrk, Redis and PostgreSQL (``scripts/bench import`` makes sure of them). Usage:
    .venv/bin/python scripts/bench_import.py [--persons 30000] [--upload 20000] [--seconds 8]
        [--steady-rate 250] [--postgres URL] [--redis URL]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import redis
import requests
from bench_api import ROOT, STEADY_RATE, VENV_BIN, Load, gunicorn_process, load, load_scripts
from bench_audit import database
from sqlalchemy import select

from app.database import migrate
from app.service.accounts import add_institution, add_payer
from payer_registry.exporter import export_lines
from payer_registry.identifiers import parse_insured_number
from payer_registry.repository import persons, qualifications
from payer_registry.seeding import seed_population
from payer_registry.synthetic import insurer_rows

WRITING_WITHIN = 180  # seconds a write may take to validate its input and start writing


@dataclass(frozen=True)
class Figures:
    load: Load
    steady: Load
    note: str = ""
    persons_per_second: float | None = None
    """How fast the long write wrote while the checks were measured."""


def seeded(registry, population: int) -> tuple[str, str, list[dict]]:
    """The population seeded; a clinic's key, a payer's key (every insurer) and check bodies."""
    migrate(registry)
    seed_population(registry, population, seed=7)
    with registry.begin() as conn:
        clinic = add_institution(conn, "1311234567", "ベンチ内科")
        payer = add_payer(conn, "ベンチ保険者", insurers=[row[0] for row in insurer_rows()])
        rows = conn.execute(
            select(qualifications.c.insured_number, persons.c.birth_date)
            .join(persons, persons.c.id == qualifications.c.person_id)
            .where(qualifications.c.lost_on.is_(None))
            .limit(500)
        ).all()
    bodies = []
    for row in rows:
        number = parse_insured_number(row.insured_number)
        bodies.append(
            {
                "insurer_number": number.insurer,
                "symbol": number.symbol,
                "number": number.number,
                "branch": number.branch,
                "birth_date": str(row.birth_date),
            }
        )
    return clinic, payer, bodies


def exported(registry, path: Path) -> Path:
    if not path.exists():
        with registry.connect() as conn, path.open("w", encoding="utf-8") as out:
            out.writelines(line + "\n" for line in export_lines(conn))
    return path


def upload_records(population: Path, count: int) -> list[dict]:
    """The first ``count`` records of the file that a payer may send (those without card links)."""
    records = []
    with population.open(encoding="utf-8") as lines:
        for line in lines:
            raw = json.loads(line)
            if not raw["card_links"]:
                records.append(raw)
            if len(records) == count:
                break
    return records


class Import:
    """``eligsim registry import`` in a process of its own, its progress lines collected."""

    def __init__(self, env: dict, path: Path) -> None:
        command = [VENV_BIN / "eligsim", "registry", "import", str(path)]
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.strip())

    def written(self) -> int | None:
        """The records written so far, from the last progress line (``written N / total ...``)."""
        progress = [line for line in self.lines if line.startswith("written ")]
        return int(progress[-1].split()[1].replace(",", "")) if progress else None

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WRITING_WITHIN
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not start writing within {WRITING_WITHIN} s")
        time.sleep(0.2)


def both_loads(
    served: tuple[str, int], scripts: tuple[Path, Path], seconds: int
) -> tuple[Load, Load]:
    """The checks at full load, then at the steady rate."""
    full, paced = scripts
    return load([served], full, seconds), load([served], paced, seconds)


def during_each(
    write: Callable[[Path], tuple[Load, str, float]], scripts: tuple[Path, Path]
) -> Figures:
    """``write(script)`` measures the checks driven by ``script`` while a write of its own runs:
    once at full load, once at the steady rate, each during its own write (a single write may end
    before both measurements do)."""
    full, paced = scripts
    at_full, note, rate = write(full)
    at_steady, _note, _rate = write(paced)
    return Figures(at_full, at_steady, note, rate)


def during_import(
    served: tuple[str, int], lua: Path, env: dict, population: Path, seconds: int
) -> tuple[Load, str, float]:
    started = Import(env, population)
    try:
        wait_until(lambda: started.written() or not started.running(), "the import")
        before, since = started.written() or 0, time.monotonic()
        measured = load([served], lua, seconds)
        if not started.running():
            raise SystemExit(f"the import ended before the measurement did: {started.lines[-3:]}")
        after = started.written() or 0
        rate = (after - before) / (time.monotonic() - since)
        return measured, f"import at {before:,} -> {after:,}", rate
    finally:
        started.stop()


@contextlib.contextmanager
def worker(env: dict) -> Iterator[None]:
    process = subprocess.Popen(
        [VENV_BIN / "eligsim", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        process.terminate()  # RQ waits for the job to end; a second signal stops it at once
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait()


def during_upload(
    served: tuple[str, int], lua: Path, env: dict, payer: str, records: list[dict], seconds: int
) -> tuple[Load, str, float]:
    url, headers = served[0], {"Authorization": f"Bearer {payer}"}
    with worker(env):
        accepted = requests.post(
            f"{url}/api/v1/payer/uploads", json={"records": records}, headers=headers, timeout=120
        )
        accepted.raise_for_status()
        status_url = f"{url}/api/v1/payer/uploads/{accepted.json()['upload_id']}"

        def status() -> dict:
            return requests.get(status_url, headers=headers, timeout=30).json()

        wait_until(lambda: status()["written"] or status()["status"] != "queued", "the upload")
        before, since = status()["written"], time.monotonic()
        measured = load([served], lua, seconds)
        after = status()
        if after["status"] != "queued":
            raise SystemExit(f"the upload ended before the measurement did: {after}")
    rate = (after["written"] - before) / (time.monotonic() - since)
    note = f"upload at {before:,} -> {after['written']:,} of {len(records):,}"
    return measured, note, rate


def measure(args, postgres: str | None, scratch: Path) -> dict[str, Figures]:
    name = "postgres" if postgres else "sqlite"
    var = scratch / name
    var.mkdir()
    with database(postgres, var) as registry:
        print(f"{name}: seeding {args.persons:,} persons ...", file=sys.stderr)
        clinic, payer, bodies = seeded(registry, args.persons)
        population = exported(registry, scratch / "population.jsonl")
        records = upload_records(population, args.upload)
        (var / "bodies.jsonl").write_text("\n".join(json.dumps(b) for b in bodies) + "\n")
        scripts = load_scripts(var, clinic, args.steady_rate)
        env = {
            **os.environ,
            "ELIGSIM_VAR_DIR": str(var),
            "DATABASE_URL": registry.url,
            "REDIS_URL": args.redis,
            "ELIGSIM_RATE_LIMIT": "100000000 per second",
            "ELIGSIM_INQUIRY_RATE_LIMIT": "100000000 per second",
            "ELIGSIM_JOB_QUEUE": f"bench-import-{os.getpid()}-{name}",
        }
        with gunicorn_process("app:create_app()", env, 2, ROOT) as served:
            figures = {"alone": Figures(*both_loads(served, scripts, args.seconds))}
            print(f"{name}: checks during the import ...", file=sys.stderr)
            figures["import"] = during_each(
                lambda lua: during_import(served, lua, env, population, args.seconds), scripts
            )
            print(f"{name}: checks during the upload ...", file=sys.stderr)
            figures["upload"] = during_each(
                lambda lua: during_upload(served, lua, env, payer, records, args.seconds), scripts
            )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=30_000)
    parser.add_argument("--upload", type=int, default=20_000)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument(
        "--steady-rate", type=float, default=STEADY_RATE, help="req/s offered by the steady load"
    )
    parser.add_argument("--postgres", help="a PostgreSQL URL; a schema of its own is made there")
    parser.add_argument(
        "--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    )
    args = parser.parse_args()
    redis.Redis.from_url(args.redis).flushdb()
    results = {}
    with tempfile.TemporaryDirectory(prefix="eligsim-bench-") as tmp:
        for postgres in (None, args.postgres) if args.postgres else (None,):
            results["PostgreSQL" if postgres else "SQLite"] = measure(args, postgres, Path(tmp))
    redis.Redis.from_url(args.redis).flushdb()
    labels = {
        "alone": "checks by number, no long write",
        "import": f"  while a {args.persons:,}-person import writes",
        "upload": f"  while a {args.upload:,}-person upload writes",
    }
    for database_name, figures in results.items():
        print(f"{database_name}:")
        for key, label in labels.items():
            found = figures[key]
            written = (
                f"{found.persons_per_second:6,.0f} persons/s"
                if found.persons_per_second is not None
                else " " * 16
            )
            print(
                f"  {label:46} {found.load.rate:8,.0f} req/s   p99 {found.load.p99:6.1f} ms   "
                f"{found.load.cpu_ms:5.2f} ms CPU/check   | steady {found.steady.rate:5,.0f} "
                f"req/s: p99 {found.steady.p99:6.1f} ms   {written}   {found.note}"
            )
    print(
        "  (full load: 16 connections sending as soon as answered; steady: the same connections "
        f"paced to offer about {args.steady_rate:g} req/s. Aim: p99 <= 50 ms during the import and "
        "the upload; on SQLite, on a quiet machine, the import writing 30,000 persons well within "
        "2 minutes)"
    )


if __name__ == "__main__":
    main()
