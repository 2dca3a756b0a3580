#!/usr/bin/env python3
"""Eligibility terminal benchmark, everything on loopback and in temporary folders:

1. A real ``eligsim terminal`` process answering individual confirmations (OQSsiquc01req) dropped
   into its request folder as careful clients do (written under a hidden name, renamed in), with
   file-change notification and then polling every 0.1 s: the time from a request being complete in
   ``req/`` to its result appearing in ``res/``, one file at a time (aim with notification: median <= 100 ms; with
   polling the latency is the poll interval) and 100 files dropped at once.
2. The same checks through the JSON API (gunicorn, 2 workers, as ``eligsim serve``) in the same run,
   one request at a time and 100 from 8 threads: the terminal's latency as a ratio of the API's.

Usage:
    .venv/bin/python scripts/bench_terminal.py [--persons 5000] [--rounds 200]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from xml.sax.saxutils import escape

import requests
from bench_api import gunicorn
from sqlalchemy import select

from app.database import migrate
from app.service.accounts import add_institution
from payer_registry.db import Registry
from payer_registry.identifiers import parse_insured_number
from payer_registry.repository import persons, qualifications
from payer_registry.seeding import seed_population

CODE = "1311234567"
AIM_MS = 100.0
BULK = 100
WARM_UP = 5
VALID_ANSWER = ("SegmentOfResult", "QualificationValidity")  # both 1: a normal end, valid


def prepare(var: Path, population: int) -> tuple[str, list[dict]]:
    """A seeded registry, the institution's API key and checks of valid persons (as bench_api)."""
    registry = Registry(f"sqlite:///{var / 'registry.db'}")
    migrate(registry)
    seed_population(registry, population, seed=7)
    with registry.begin() as conn:
        key = add_institution(conn, CODE, "ベンチ内科")
        rows = conn.execute(
            qualifications.select().where(qualifications.c.lost_on.is_(None)).limit(500)
        ).all()
        births = dict(conn.execute(select(persons.c.id, persons.c.birth_date)).all())
    registry.dispose()
    numbers = [(parse_insured_number(row.insured_number), row.person_id) for row in rows]
    bodies = [
        {"insurer_number": n.insurer, "symbol": n.symbol, "number": n.number, "branch": n.branch}
        | {"birth_date": str(births[person])}
        for n, person in numbers
    ]
    return key, bodies


def request_xml(body: dict, identifier: str) -> bytes:
    """An OQSsiquc01req for one API body (as ``tests/terminal/conftest.individual_request``)."""
    fields = [
        ("InsurerNumber", body["insurer_number"]),
        ("InsuredCardSymbol", body["symbol"]),
        ("InsuredIdentificationNumber", body["number"]),
        ("InsuredBranchNumber", body["branch"]),
        ("Birthdate", body["birth_date"].replace("-", "")),
        ("LimitApplicationCertificateRelatedConsFlg", "0"),
    ]
    info = "".join(f"<{tag}>{escape(value)}</{tag}>" for tag, value in fields if value)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<XmlMsg><MessageHeader>'
        f"<MedicalInstitutionCode>{CODE}</MedicalInstitutionCode>"
        f"<ArbitraryFileIdentifier>{identifier}</ArbitraryFileIdentifier></MessageHeader>"
        f"<MessageBody><QualificationConfirmSearchInfo>{info}</QualificationConfirmSearchInfo>"
        "</MessageBody></XmlMsg>\n"
    ).encode()


def stats(seconds: list[float]) -> tuple[float, float]:
    """Median and p95 in ms."""
    return statistics.median(seconds) * 1000, statistics.quantiles(seconds, n=100)[94] * 1000


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Terminal:
    """A running ``eligsim terminal`` over ``root/req`` and ``root/res``."""

    def __init__(self, root: Path, env: dict, options: list[str]) -> None:
        self.req, self.res, self.log = root / "req", root / "res", root / "terminal.log"
        self.serial = 0
        command = [sys.executable, "-m", "app.cli", "terminal", "--req", str(self.req)]
        command += ["--res", str(self.res), "--state", str(root / "state")]
        command += ["--institution", CODE, *options]
        root.mkdir(parents=True)
        with self.log.open("w") as output:
            self.process = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=output
            )
        deadline = time.monotonic() + 60
        while "terminal of" not in self.log.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                stop(self.process)
                raise SystemExit(f"the terminal did not start:\n{self.log.read_text()}")
            time.sleep(0.05)

    def drop(self, bodies: list[dict]) -> dict[str, float]:
        """Rename requests in one after another; result name -> when its request was complete."""
        staged = []
        for body in bodies:
            self.serial += 1
            name = f"OQSsiquc01req_{self.serial:06d}.xml"
            (self.req / f".{name}.tmp").write_bytes(request_xml(body, f"F{self.serial:06d}"))
            staged.append(name)
        dropped = {}
        for name in staged:
            os.replace(self.req / f".{name}.tmp", self.req / name)
            dropped[name.replace("01req", "01res")] = time.perf_counter()
        return dropped

    def wait(self, dropped: dict[str, float], timeout: float = 60) -> dict[str, float]:
        """Result name -> seconds from drop to result, looking every 1 ms."""
        pending, latency = set(dropped), {}
        deadline = time.perf_counter() + timeout
        while pending:
            if len(pending) > 1:
                found = pending & set(os.listdir(self.res))
            else:
                found = {name for name in pending if os.path.exists(self.res / name)}
            now = time.perf_counter()
            for name in found:
                latency[name] = now - dropped[name]
            pending -= found
            if pending and (now > deadline or self.process.poll() is not None):
                raise SystemExit(f"no result for {sorted(pending)[0]}:\n{self.log.read_text()}")
            time.sleep(0.001)
        for name in latency:
            root = ET.parse(self.res / name).getroot()
            if any(root.findtext(f".//{tag}") != "1" for tag in VALID_ANSWER):
                raise SystemExit(f"{name} is not a valid answer: {ET.tostring(root)[:400]!r}")
        return latency


def bench_terminal(root: Path, env: dict, options: list[str], bodies: list[dict], rounds: int):
    terminal = Terminal(root, env, options)
    try:
        for body in bodies[:WARM_UP]:
            terminal.wait(terminal.drop([body]))
        single = []
        for i in range(rounds):
            single += terminal.wait(terminal.drop([bodies[i % len(bodies)]])).values()
        dropped = terminal.drop([bodies[i % len(bodies)] for i in range(BULK)])
        bulk = terminal.wait(dropped)
        total = max(dropped[name] + bulk[name] for name in bulk) - min(dropped.values())
        own = [float(ms) for ms in re.findall(r"\((\d+) ms\)", terminal.log.read_text())]
        return single, total, list(bulk.values()), statistics.median(own)
    finally:
        stop(terminal.process)


def bench_api(env: dict, key: str, bodies: list[dict], rounds: int):
    local = threading.local()

    def check(body: dict) -> float:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.headers["Authorization"] = f"Bearer {key}"
        started = time.perf_counter()
        response = local.session.post(f"{url}/api/v1/eligibility-checks", json=body)
        elapsed = time.perf_counter() - started
        if response.status_code != 200 or response.json()["eligibility"]["validity"] != "valid":
            raise SystemExit(f"the API answered {response.status_code}: {response.text[:400]}")
        return elapsed

    with gunicorn("app:create_app()", env, 2) as url:
        for body in bodies[:WARM_UP]:
            check(body)
        single = [check(bodies[i % len(bodies)]) for i in range(rounds)]
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            bulk = list(pool.map(check, [bodies[i % len(bodies)] for i in range(BULK)]))
        return single, time.perf_counter() - started, bulk


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=200, help="requests one at a time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        var = Path(scratch)
        print(f"preparing a registry of {args.persons:,} persons ...", file=sys.stderr)
        key, bodies = prepare(var, args.persons)
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
        env |= {"ELIGSIM_VAR_DIR": str(var), "ELIGSIM_RATE_LIMIT": "100000000 per second"}
        runs = {}
        for label, options in (("notify", []), ("poll 0.1 s", ["--poll", "0.1"])):
            print(f"terminal ({label}) ...", file=sys.stderr)
            runs[f"terminal, {label}"] = bench_terminal(
                var / label.split()[0], env, options, bodies, args.rounds
            )
        print("JSON API ...", file=sys.stderr)
        runs["API, gunicorn"] = bench_api(env, key, bodies, args.rounds)
    api_median = stats(runs["API, gunicorn"][0])[0]
    print(f"{'':34}" + "".join(f"{label:>22}" for label in runs))
    rows = {
        "1 at a time: median ms": lambda s, t, b: stats(s)[0],
        "1 at a time: p95 ms": lambda s, t, b: stats(s)[1],
        "1 at a time: per s": lambda s, t, b: len(s) / sum(s),
        "  ratio of median to the API's": lambda s, t, b: stats(s)[0] / api_median,
        f"{BULK} at once: all done, ms": lambda s, t, b: t * 1000,
        f"{BULK} at once: per s": lambda s, t, b: BULK / t,
        f"{BULK} at once: median ms": lambda s, t, b: stats(b)[0],
        f"{BULK} at once: p95 ms": lambda s, t, b: stats(b)[1],
    }
    for title, figure in rows.items():
        print(f"{title:34}" + "".join(f"{figure(*run[:3]):22,.2f}" for run in runs.values()))
    print(f"(API at once: {BULK} requests from 8 threads; {args.rounds} rounds one at a time)")
    terminals = [label for label in runs if label.startswith("terminal")]
    own = ", ".join(f"{label} {runs[label][3]:.0f} ms" for label in terminals)
    print(f"the terminal's own time per answer (its log, whole ms), median: {own}")
    median = stats(runs[terminals[0]][0])[0]
    verdict = "aim met" if median <= AIM_MS else "aim NOT met"
    print(f"aim: median <= {AIM_MS:.0f} ms from drop to result, 1 file at a time, {terminals[0]}: "
          f"{median:.1f} ms -> {verdict}")  # fmt: skip
    print("(polling answers a file within the poll interval: a share's latency is set by --poll)")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stopped: clean up as on Ctrl-C
    try:
        main()
    except KeyboardInterrupt:  # every process was stopped on the way out
        sys.exit(130)
