#!/usr/bin/env python3
"""Recovery drill (issue 12): rehearse recovering from ransomware, end to end, on SQLite.

1. Seed N persons and the demo clinic with its cards; take the registry's digest (the SHA-256 of
   ``eligsim registry export``).
2. Serve (``eligsim serve`` on a free port) and run load through the API: checks by numbers and card
   visits. The load client records every acknowledged request: a check by the unique staff id it
   carries (kept in the audit log), a card visit by the visit id it was given.
3. Take a backup (``eligsim backup``) while the load goes on, and let the load run on after it.
4. Stop the service and overwrite the database files with random bytes, as ransomware would.
5. Recover, timed: move the encrypted var directory away, ``eligsim restore`` the backup, verify
   (``eligsim audit verify``, the counts against the manifest, the registry digest), serve again
   (health and one check).
6. Print the recovery time, the acknowledged requests that preceded the backup but are missing after
   the restore (aim: 0), and whether recovery took at most 60 s; exit 1 when data preceding the
   backup was lost or a verification failed.

Usage:
    .venv/bin/python scripts/drill.py [--persons 100000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

from app.client import FrontDeskClient, FrontDeskError
from card_reader.errors import CardError
from card_reader.transport import open_transport
from payer_registry.identifiers import parse_insured_number

VENV_BIN = Path(sys.executable).parent
RECOVERY_AIM_SECONDS = 60.0
INQUIRIES = 200
LOAD_BEFORE_BACKUP_SECONDS = 2.0
LOAD_AFTER_BACKUP_SECONDS = 1.0
CHECK_THREADS = 2
COMMAND_SECONDS = 900  # the longest an eligsim command may take (seeding a large registry)
CONSENTS = ("medication",)
# settings the drill does not inherit (nor any ELIGSIM_*): it runs on its own SQLite database
FOREIGN_SETTINGS = ("DATABASE_URL", "REDIS_URL")


class DrillFailed(RuntimeError):
    """A step of the drill could not be done; the message says which."""


@dataclass(frozen=True)
class Ack:
    kind: str  # "check" or "visit"
    key: str  # the check's staff id, or the visit's id
    at: float  # time.monotonic() when the answer arrived


@dataclass
class DrillReport:
    persons: int
    acks: list[Ack]
    refused: int
    backup_started: float
    backup_finished: float
    restored_keys: set[tuple[str, str]]
    steps: dict[str, float] = field(default_factory=dict)  # recovery step -> seconds
    checks: dict[str, bool] = field(default_factory=dict)  # verification -> passed

    @property
    def recovery_seconds(self) -> float:
        return sum(self.steps.values())

    def acks_between(self, start: float, end: float) -> list[Ack]:
        return [ack for ack in self.acks if start <= ack.at < end]

    def missing(self, acks: list[Ack]) -> list[Ack]:
        return [ack for ack in acks if (ack.kind, ack.key) not in self.restored_keys]

    @property
    def lost_before_backup(self) -> list[Ack]:
        return self.missing(self.acks_between(0.0, self.backup_started))

    @property
    def passed(self) -> bool:
        return not self.lost_before_backup and all(self.checks.values())


# -- the eligsim commands ---------------------------------------------------------------------


def drill_env(var: Path) -> dict[str, str]:
    """The environment of every eligsim command of the drill: its own var directory and SQLite
    database, and rate limits the load cannot reach."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in FOREIGN_SETTINGS and not key.startswith("ELIGSIM_")
    }
    env["ELIGSIM_VAR_DIR"] = str(var)
    env["ELIGSIM_RATE_LIMIT"] = "100000000 per minute"
    env["ELIGSIM_INQUIRY_RATE_LIMIT"] = "100000000 per hour"
    return env


def eligsim(env: dict[str, str], *arguments: str) -> str:
    """Run one eligsim command; its output, or DrillFailed with its error line."""
    command = [str(VENV_BIN / "eligsim"), *arguments]
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=COMMAND_SECONDS
        )
    except subprocess.TimeoutExpired:
        raise DrillFailed(f"eligsim {' '.join(arguments)} took over {COMMAND_SECONDS} s") from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise DrillFailed(f"eligsim {' '.join(arguments)} failed: {reason}")
    return done.stdout


def registry_digest(env: dict[str, str], keep: int = 0) -> tuple[str, list[dict]]:
    """The SHA-256 of ``eligsim registry export``, and the first ``keep`` records it exported."""
    export = subprocess.Popen(
        [str(VENV_BIN / "eligsim"), "registry", "export"], env=env, stdout=subprocess.PIPE
    )
    assert export.stdout is not None
    digest, records = hashlib.sha256(), []
    for line in export.stdout:
        digest.update(line)
        if len(records) < keep:
            records.append(json.loads(line))
    if export.wait() != 0:
        raise DrillFailed("eligsim registry export failed")
    return digest.hexdigest(), records


def inquiries_of(records: list[dict]) -> list[dict]:
    """Check bodies for the exported persons' current qualifications."""
    bodies = []
    for record in records:
        for qualification in record["qualifications"]:
            if qualification["lost_on"] is None:
                number = parse_insured_number(qualification["insured_number"])
                bodies.append(
                    {
                        "insurer_number": number.insurer,
                        "symbol": number.symbol,
                        "number": number.number,
                        "branch": number.branch,
                        "birth_date": record["birth_date"],
                    }
                )
    if not bodies:
        raise DrillFailed("the seeded registry holds nobody insured: nothing to check")
    return bodies


def check(session: requests.Session, url: str, api_key: str, body: dict) -> bool:
    """One check by numbers; whether the service acknowledged it."""
    headers = {"Authorization": f"Bearer {api_key}"}
    try:
        answer = session.post(
            f"{url}/api/v1/eligibility-checks", json=body, headers=headers, timeout=10
        )
    except requests.RequestException:
        return False
    return answer.ok


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serving(env: dict[str, str]) -> Iterator[str]:
    """``eligsim serve`` on a free port, once healthy; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(VENV_BIN / "eligsim"), "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(url, server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=15)


def wait_healthy(url: str, server: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{url}/api/v1/health", timeout=1).ok:
                return
        if server.poll() is not None:
            raise DrillFailed(f"eligsim serve exited with status {server.returncode}")
        if time.monotonic() > deadline:
            raise DrillFailed(f"eligsim serve did not answer at {url} within {timeout:.0f} s")
        time.sleep(0.05)


# -- the load ---------------------------------------------------------------------------------


class Load:
    """Threads sending checks by numbers and card visits until stopped, each recording what was
    acknowledged (a 2xx answer) and counting what was refused."""

    def __init__(self, url: str, api_key: str, cards: list[Path], inquiries: list[dict]) -> None:
        self.url, self.api_key, self.cards, self.inquiries = url, api_key, cards, inquiries
        self.acks: list[Ack] = []
        self.refused = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._serial = itertools.count(1)
        self._threads = [
            threading.Thread(target=self._checks, args=(n,), daemon=True)
            for n in range(CHECK_THREADS)
        ] + [threading.Thread(target=self._visits, args=(card,), daemon=True) for card in cards]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _record(self, kind: str, key: str | None) -> None:
        with self._lock:
            if key is None:
                self.refused += 1
            else:
                self.acks.append(Ack(kind, key, time.monotonic()))

    def _checks(self, thread: int) -> None:
        session = requests.Session()
        for n in itertools.count(thread, CHECK_THREADS):
            if self._stop.is_set():
                return
            staff_id = f"drill-{next(self._serial)}-{secrets.token_hex(4)}"
            body = {**self.inquiries[n % len(self.inquiries)], "staff_id": staff_id}
            acknowledged = check(session, self.url, self.api_key, body)
            self._record("check", staff_id if acknowledged else None)

    def _visits(self, card: Path) -> None:
        client = FrontDeskClient(self.url, self.api_key)
        with contextlib.closing(open_transport(card_file=card)) as transport:
            while not self._stop.is_set():
                try:
                    visit_id: str | None = client.run_visit(transport, "1234", CONSENTS).visit_id
                except (FrontDeskError, CardError):
                    visit_id = None
                self._record("visit", visit_id)


# -- ransomware and recovery ------------------------------------------------------------------


def encrypt_database_files(var: Path) -> list[str]:
    """Overwrite the SQLite database and its WAL files with random bytes of the same size."""
    hit = []
    for path in sorted(var.glob("registry.db*")):
        size = path.stat().st_size
        with path.open("r+b") as file:
            file.write(secrets.token_bytes(size))
            file.flush()
            os.fsync(file.fileno())
        hit.append(path.name)
    return hit


def database_unusable(env: dict[str, str]) -> bool:
    try:
        eligsim(env, "audit", "verify")
    except DrillFailed:
        return True
    return False


def restored_keys(database: Path) -> set[tuple[str, str]]:
    """What the restored database holds of the load: checks by staff id, visits by id."""
    with contextlib.closing(sqlite3.connect(database)) as conn:
        checks = conn.execute("SELECT staff_id FROM audit_log WHERE staff_id LIKE 'drill-%'")
        keys = {("check", staff_id) for (staff_id,) in checks}
        keys |= {("visit", visit_id) for (visit_id,) in conn.execute("SELECT id FROM visits")}
    return keys


def counts_match(database: Path, manifest: Path) -> bool:
    expected = json.loads(manifest.read_text(encoding="utf-8"))["counts"]
    tables = {"persons": "persons", "visits": "visits", "consents": "consents"}
    tables["audit_entries"] = "audit_log"
    with contextlib.closing(sqlite3.connect(database)) as conn:
        found = {
            name: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for name, table in tables.items()
        }
    return found == expected


@contextlib.contextmanager
def timed(steps: dict[str, float], name: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        steps[name] = time.monotonic() - started


def recover(
    work: Path, env: dict[str, str], digest: str, inquiry: dict, report: DrillReport
) -> None:
    """The timed recovery: restore, verify, serve again. Leaves the service stopped."""
    var, backup = work / "var", work / "backup"
    with timed(report.steps, "restore"):
        var.rename(work / "var.encrypted")
        eligsim(env, "restore", str(backup))
    with timed(report.steps, "verify"):
        report.checks["audit verify"] = not database_unusable(env)
        database = var / "registry.db"
        report.checks["counts equal the manifest"] = counts_match(
            database, backup / "manifest.json"
        )
        report.checks["registry digest unchanged"] = registry_digest(env)[0] == digest
    with timed(report.steps, "serving again"), serving(env) as url:
        api_key = (var / "demo" / "api-key").read_text(encoding="ascii").strip()
        report.checks["serving again"] = check(requests.Session(), url, api_key, inquiry)
    report.restored_keys = restored_keys(database)


# -- the drill --------------------------------------------------------------------------------


def prepare(env: dict[str, str], persons: int) -> tuple[str, list[dict]]:
    """Seed and set up the demo clinic; the registry's digest and check bodies."""
    eligsim(env, "registry", "seed", "--persons", str(persons))
    eligsim(env, "demo", "setup")
    digest, records = registry_digest(env, keep=INQUIRIES)
    return digest, inquiries_of(records)


def load_and_back_up(
    work: Path, env: dict[str, str], persons: int, inquiries: list[dict]
) -> DrillReport:
    """Serve, load, back up under load, load on; the service is stopped on return."""
    var = work / "var"
    demo = json.loads((var / "demo" / "demo.json").read_text(encoding="utf-8"))
    cards = [Path(card["path"]) for card in demo["cards"]]
    with serving(env) as url, Load(url, demo["api_key"], cards, inquiries) as load:
        time.sleep(LOAD_BEFORE_BACKUP_SECONDS)
        backup_started = time.monotonic()
        eligsim(env, "backup", "--out", str(work / "backup"))
        backup_finished = time.monotonic()
        time.sleep(LOAD_AFTER_BACKUP_SECONDS)
    return DrillReport(persons, load.acks, load.refused, backup_started, backup_finished, set())


def run_drill(persons: int, work: Path) -> DrillReport:
    env = drill_env(work / "var")
    digest, inquiries = prepare(env, persons)
    report = load_and_back_up(work, env, persons, inquiries)
    encrypt_database_files(work / "var")
    if not database_unusable(env):
        raise DrillFailed("the overwritten database still opened: the drill destroyed nothing")
    recover(work, env, digest, inquiries[0], report)
    return report


def summary(report: DrillReport) -> list[str]:
    """What the drill found, one fact a line."""
    started, finished = report.backup_started, report.backup_finished
    before = report.acks_between(0.0, started)
    during = report.acks_between(started, finished)
    after = report.acks_between(finished, float("inf"))
    kinds = [ack.kind for ack in report.acks]
    steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in report.steps.items())
    met = "met" if report.recovery_seconds <= RECOVERY_AIM_SECONDS else "MISSED"
    lines = [
        f"drill on {report.persons:,} persons (SQLite)",
        f"load: {kinds.count('check'):,} checks and {kinds.count('visit'):,} card visits "
        f"acknowledged, {report.refused} refused",
        f"backup under load: {finished - started:.1f} s",
        f"recovery: {report.recovery_seconds:.1f} s ({steps}); "
        f"aim <= {RECOVERY_AIM_SECONDS:.0f} s: {met}",
        f"acknowledged before the backup: {len(before):,}, missing after the restore: "
        f"{len(report.lost_before_backup)} (aim 0)",
        f"acknowledged during the backup: {len(during):,}, in it: "
        f"{len(during) - len(report.missing(during)):,}",
        f"acknowledged after the backup: {len(after):,}, lost with the database: "
        f"{len(report.missing(after)):,} (the newer the backup, the fewer)",
    ]
    lines += [f"{name}: {'yes' if ok else 'NO'}" for name, ok in report.checks.items()]
    lines.append("drill passed" if report.passed else "drill FAILED")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=100_000, help="default: %(default)s")
    parser.add_argument(
        "--workdir", type=Path, help="Keep the drill's files here (a new directory)."
    )
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        work = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        work.mkdir(parents=True, exist_ok=True)
        if any(work.iterdir()):
            print(f"error: {work} is not empty", file=sys.stderr)
            return 1
        print(
            f"seeding {args.persons:,} persons and running the drill in {work} ...", file=sys.stderr
        )
        try:
            report = run_drill(args.persons, work)
        except DrillFailed as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    print("\n".join(summary(report)))
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
