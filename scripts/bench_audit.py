#!/usr/bin/env python3
"""Audit benchmark (issue 11, "A keyed, anchored chain"): ``eligsim audit verify`` over 1,000,000
entries (aim ≤ 10 s), beside the time a bare read of the same rows takes, on SQLite and (with
``--postgres``) on PostgreSQL, side by side.

The entries are appended directly, chained and signed as the service signs them (HMAC-SHA256 under
a fresh key), in bulk inserts: going through the API would take an hour for what is measured here,
the verification. A checkpoint of the newest entry is written, so verify holds the log against it.

Usage: scripts/bench_audit.py [--entries 1000000] [--postgres URL]"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Connection, update

from app.database import migrate
from app.service import audit
from app.settings import load_settings
from payer_registry.db import Registry

BATCH = 20_000
START = dt.datetime(2025, 4, 1, 0, 0, tzinfo=dt.UTC)
# a mix like a day at a clinic: checks by number, card visits with consents, looks at records
SHAPES = [
    ("institution", "eligibility_check", None, "valid"),
    ("institution", "card_verification", None, "valid"),
    ("institution", "consent", "medication", "given"),
    ("institution", "consent", "checkup", "declined"),
    ("institution", "view", "medication", "shown"),
    ("patient", "portal_view", "access_log", "shown"),
]


def entries(trail: audit.AuditTrail, count: int) -> Iterator[list[dict[str, Any]]]:
    """Batches of entries chained from the genesis digest, as ``audit.append`` would make them."""
    previous, batch = audit.GENESIS, []
    for seq in range(1, count + 1):
        actor, action, category, outcome = SHAPES[seq % len(SHAPES)]
        entry = {
            "seq": seq,
            "at": START + dt.timedelta(milliseconds=seq),
            "actor": actor,
            "institution_code": "1311234567" if actor == "institution" else None,
            "staff_id": None,
            "person_id": seq % 50_000 + 1,
            "action": action,
            "category": category,
            "visit_id": None,
            "consent_id": None,
            "outcome": outcome,
            "key_id": trail.keys.current_id,
        }
        digest = audit.entry_digest(entry, previous, trail.keys)
        batch.append({**entry, "previous_digest": previous, "digest": digest})
        previous = digest
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def fill(registry: Registry, trail: audit.AuditTrail, count: int) -> float:
    started = time.perf_counter()
    with registry.begin() as conn:
        for batch in entries(trail, count):
            conn.execute(audit.audit_log.insert(), batch)
        last = batch[-1]
        head = audit.audit_head
        conn.execute(update(head).values(seq=last["seq"], digest=last["digest"]))
    trail.checkpoint(registry.engine)
    return time.perf_counter() - started


def bare_read_seconds(conn: Connection) -> float:
    """Every row through the driver, nothing computed: the floor under any verification."""
    started = time.perf_counter()
    for _ in conn.exec_driver_sql("SELECT * FROM audit_log ORDER BY seq"):
        pass
    return time.perf_counter() - started


@contextmanager
def database(postgres: str | None, directory: Path) -> Iterator[Registry]:
    """A fresh SQLite file, or a PostgreSQL schema of its own, dropped afterwards."""
    if postgres is None:
        registry = Registry(f"sqlite:///{directory / 'registry.db'}")
        yield registry
        registry.dispose()
        return
    schema = f"eligsim_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        registry = Registry(f"{postgres}?options=-csearch_path%3D{schema}")
        try:
            yield registry
        finally:
            registry.dispose()
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@dataclass(frozen=True)
class Figures:
    filled: float
    verified: float
    bare: float


def measure(postgres: str | None, count: int) -> Figures:
    with tempfile.TemporaryDirectory(prefix="eligsim-bench-") as tmp:
        trail = audit.AuditTrail.for_settings(load_settings({"ELIGSIM_VAR_DIR": tmp}))
        with database(postgres, Path(tmp)) as registry:
            migrate(registry)
            print(f"appending {count:,} signed entries to {registry.dialect} …", flush=True)
            filled = fill(registry, trail, count)
            print("verifying …", flush=True)
            with registry.connect() as conn:
                started = time.perf_counter()
                report = audit.verify_chain(conn, trail)
                verified = time.perf_counter() - started
                bare = bare_read_seconds(conn)
    if not report.intact:
        raise SystemExit(f"the benchmark's own log does not verify: {report.reason}")
    return Figures(filled, verified, bare)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--postgres", metavar="URL", help="measure on this PostgreSQL as well")
    args = parser.parse_args()
    n = args.entries
    runs = {"SQLite": measure(None, n)}
    if args.postgres:
        runs["PostgreSQL"] = measure(args.postgres, n)
    lines = [
        (f"bulk append of {n:,} entries (s)", "", lambda f: f"{f.filled:.1f}"),
        (f"audit verify, {n:,} entries (s)", "≤ 10 at 1M", lambda f: f"{f.verified:.2f}"),
        ("verify: entries per second", "≥ 100,000", lambda f: f"{n / f.verified:,.0f}"),
        ("bare read of the same rows (s)", "", lambda f: f"{f.bare:.2f}"),
        ("ratio verify / bare read", "", lambda f: f"{f.verified / f.bare:.1f}"),
    ]
    print(f"{'measure':<36}" + "".join(f"  {name:>11}" for name in runs) + "  target")
    for label, target, value in lines:
        print(f"{label:<36}" + "".join(f"  {value(f):>11}" for f in runs.values()) + f"  {target}")


if __name__ == "__main__":
    main()
