#!/usr/bin/env python3
"""Registry benchmark (issue 2, "Speed and size"): seeding N persons into a fresh SQLite database
(time, peak memory, and the ratio to a plain sqlite3 ``executemany`` of the very same rows), then
the lookup of one person by individualized insured number at N and at 10,000 persons.

Usage: scripts/bench_registry.py [--persons 1000000] [--lookups 2000]"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import resource
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from app.database import migrate
from payer_registry.db import Registry
from payer_registry.repository import find_person
from payer_registry.seeding import insert_sql, iter_batches, seed_population
from payer_registry.synthetic import TABLE_COLUMNS, insurer_rows

REFERENCE_DATE = dt.date(2025, 4, 1)
SEED = 2025
SMALL = 10_000


def fresh_registry(path: Path) -> Registry:
    registry = Registry(f"sqlite:///{path}")
    migrate(registry)
    return registry


def seed_seconds(path: Path, persons: int) -> float:
    registry = fresh_registry(path)
    try:
        return seed_population(registry, persons, SEED, reference_date=REFERENCE_DATE).seconds
    finally:
        registry.dispose()


def peak_rss_mib() -> tuple[float, float]:
    """Peak resident memory of this process and of the largest child (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return own / 1024, children / 1024


def plain_executemany_seconds(path: Path, persons: int) -> float:
    """The same rows into a fresh database with the same schema through plain sqlite3, one
    transaction; only the inserts and the commit are timed, not the generation."""
    fresh_registry(path).dispose()
    conn = sqlite3.connect(path)
    statements = {
        table: insert_sql(table, columns, "?") for table, columns in TABLE_COLUMNS.items()
    }
    started = time.perf_counter()
    conn.executemany(insert_sql("insurers", ("number", "name", "kind"), "?"), insurer_rows())
    elapsed = time.perf_counter() - started
    for batch in iter_batches(persons, SEED, REFERENCE_DATE):
        started = time.perf_counter()
        for table, rows in batch.items():
            conn.executemany(statements[table], rows)
        elapsed += time.perf_counter() - started
    started = time.perf_counter()
    conn.commit()
    elapsed += time.perf_counter() - started
    conn.close()
    return elapsed


def lookup_median_ms(path: Path, persons: int, lookups: int) -> float:
    """Median time of ``find_person`` over random persons' individualized numbers, in-process, after
    as many lookups of other persons to warm the statement cache and the upper index pages."""
    registry = Registry(f"sqlite:///{path}")
    person_ids = random.Random(0).sample(range(1, persons + 1), min(2 * lookups, persons))
    sql = "SELECT insured_number FROM qualifications WHERE person_id = ? LIMIT 1"
    with registry.connect() as conn:
        numbers = [conn.exec_driver_sql(sql, (pid,)).scalar_one() for pid in person_ids]
        warm_up, measured = numbers[: len(numbers) // 2], numbers[len(numbers) // 2 :]
        for number in warm_up:
            find_person(conn, number)
        timings = []
        for number in measured:
            started = time.perf_counter_ns()
            find_person(conn, number)
            timings.append(time.perf_counter_ns() - started)
    registry.dispose()
    return statistics.median(timings) / 1e6


def report(rows: list[tuple[str, str, str]]) -> None:
    width = max(len(label) for label, _, _ in rows)
    print(f"{'measure':<{width}}  {'value':>12}  target")
    for label, value, target in rows:
        print(f"{label:<{width}}  {value:>12}  {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    args = parser.parse_args()
    n = args.persons
    with tempfile.TemporaryDirectory(prefix="eligsim-bench-") as tmp:
        directory = Path(tmp)
        print(f"seeding {n:,} persons into SQLite under {directory} …", flush=True)
        seeded = seed_seconds(directory / "seeded.db", n)
        own_rss, child_rss = peak_rss_mib()
        print("timing a plain sqlite3 executemany of the same rows …", flush=True)
        plain = plain_executemany_seconds(directory / "plain.db", n)
        (directory / "plain.db").unlink()
        print("timing lookups …", flush=True)
        large = lookup_median_ms(directory / "seeded.db", n, args.lookups)
        seed_seconds(directory / "small.db", SMALL)
        small = lookup_median_ms(directory / "small.db", SMALL, args.lookups)
    report(
        [
            (f"seed {n:,} persons with histories (s)", f"{seeded:.1f}", "≤ 180 at 1M"),
            ("peak RSS, seeding process (MiB)", f"{own_rss:.0f}", "≤ 1024"),
            ("peak RSS, largest worker (MiB)", f"{child_rss:.0f}", "≤ 1024"),
            ("plain sqlite3 executemany, same rows (s)", f"{plain:.1f}", ""),
            ("ratio seed / plain executemany", f"{seeded / plain:.2f}", "≤ 3"),
            (f"lookup median at {n:,} persons (ms)", f"{large:.3f}", "≤ 0.2"),
            (f"lookup median at {SMALL:,} persons (ms)", f"{small:.3f}", ""),
            ("ratio of the medians", f"{large / small:.2f}", "≤ 1.5"),
        ]
    )


if __name__ == "__main__":
    main()
