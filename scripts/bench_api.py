#!/usr/bin/env python3
"""API benchmark (issues 4 and 11), everything on loopback, load from separate processes, each
figure beside its baseline measured right before it in the same run:

1. Eligibility checks by number through gunicorn (the service's threaded worker, 2 processes),
   driven by ``wrk`` (Debian package), against a bare Flask JSON endpoint served the same way:
   throughput ratio (aim >= 0.5) and p99 latency (aim <= 50 ms); on SQLite, on PostgreSQL, and as
   two service processes (two gunicorn masters of one worker each, one ``wrk`` each) on one
   PostgreSQL and one Redis. Each is driven at full load (16 connections sending as soon as they
   are answered: the p99 is then mostly waiting in line) and at a steady offered rate (the same
   connections with random think times, ``--steady-rate``), as front desks send. After each run
   the audit chain must verify.
2. Card session + PIN-mode verification per second (the client signs with an in-process card),
   beside the in-process ceiling: the card's RSA signature and the two RSA verifications alone.
3. 10,000 batch inquiries through two ``eligsim worker`` processes on Redis (aim <= 30 s).

``--against REV`` measures instead the checks of this tree beside those of an earlier revision's
(a git worktree; same migrations), in alternating rounds on SQLite: a change judged beside what it
changes.

Needs wrk, Redis and PostgreSQL (``scripts/bench api`` makes sure of them). Usage:
    .venv/bin/python scripts/bench_api.py [--persons 5000] [--seconds 8] [--batch 10000]
        [--redis redis://127.0.0.1:6379/14] [--postgres postgresql://postgres@127.0.0.1:5432/test]
        [--only sqlite|checks] [--against REV [--rounds 3]]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis
import requests
from sqlalchemy import select

from app.database import migrate
from app.service.accounts import add_institution
from app.service.audit import AuditTrail, verify_chain
from app.settings import load_settings
from card_reader.authority import Authority
from card_reader.bench import make_samples, raw_rsa_rate
from card_reader.issuance import auth_certificate, issue_card
from card_reader.jpki import JpkiClient
from card_reader.surface import SurfaceAttributes
from card_reader.transport import InProcessTransport
from card_reader.virtual_card import VirtualCard
from payer_registry.card_links import link_card
from payer_registry.db import Registry
from payer_registry.identifiers import parse_insured_number
from payer_registry.repository import persons, qualifications
from payer_registry.seeding import seed_population

SCRIPTS = Path(__file__).resolve().parent
ROOT = SCRIPTS.parent
VENV_BIN = Path(sys.executable).parent
WORKER_CLASS = "app.cli.serve.JsonErrorWorker"  # what `eligsim serve` runs
CONNECTIONS = 16
WRK_SCRIPT = """
local bodies = {}
for line in io.lines("%s") do bodies[#bodies + 1] = line end
local i = 0
request = function()
  i = i %% #bodies + 1
  return wrk.format("POST", "/api/v1/eligibility-checks", {
    ["Content-Type"] = "application/json", ["Authorization"] = "Bearer %s"}, bodies[i])
end
"""


STEADY_RATE = 250  # requests per second offered by the steady load (``--steady-rate``)
# The steady load: each connection waits a random (exponential) think time after every answer, so
# the connections together offer about ``rate`` requests a second, as independent front desks do.
PACED_SCRIPT = """
math.randomseed(os.time())
local mean_ms = %f
delay = function() return -math.log(1 - math.random()) * mean_ms end
"""


def load_scripts(var: Path, key: str, steady_rate: float) -> tuple[Path, Path]:
    """The ``wrk`` scripts over ``var/bodies.jsonl``: as fast as answers come, and paced."""
    full, paced = var / "checks.lua", var / "checks-paced.lua"
    full.write_text(WRK_SCRIPT % (var / "bodies.jsonl", key))
    paced.write_text(full.read_text() + PACED_SCRIPT % (CONNECTIONS * 1000 / steady_rate))
    return full, paced


@dataclass(frozen=True)
class Service:
    """A prepared database and var directory: the settings, an institution key, the load scripts
    (as fast as answers come; paced to the steady rate)."""

    env: dict[str, str]
    key: str
    lua: Path
    paced_lua: Path
    card: VirtualCard


@dataclass(frozen=True)
class Load:
    """Requests per second, p99 latency in ms, and the service's CPU time per request in ms (its
    worker processes' user + system time over the requests answered): the figure that the other
    load on a shared machine leaves alone."""

    rate: float
    p99: float
    cpu_ms: float = 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def gunicorn(app: str, env: dict, workers: int, chdir: Path = ROOT) -> Iterator[str]:
    with gunicorn_process(app, env, workers, chdir) as (url, _pid):
        yield url


@contextlib.contextmanager
def gunicorn_process(app: str, env: dict, workers: int, chdir: Path) -> Iterator[tuple[str, int]]:
    """A gunicorn master of ``workers`` threaded workers, once it answers; its URL and pid."""
    port = free_port()
    threads = str(load_settings(env).serve_threads)
    process = subprocess.Popen(
        [
            *(VENV_BIN / "gunicorn", "--workers", str(workers), "--threads", threads),
            *("--worker-class", WORKER_CLASS, "--bind", f"127.0.0.1:{port}"),
            *("--chdir", str(chdir), app),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            with contextlib.suppress(requests.ConnectionError, requests.Timeout):
                requests.get(url, timeout=5)
                break
            time.sleep(0.1)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait()


@contextlib.contextmanager
def servers(app: str, env: dict, count: int, workers: int, chdir: Path = ROOT) -> Iterator[list]:
    """``count`` gunicorn masters of ``workers`` worker processes each; their URLs and pids."""
    with contextlib.ExitStack() as stack:
        yield [
            stack.enter_context(gunicorn_process(app, env, workers, chdir)) for _ in range(count)
        ]


def cpu_seconds(masters: list[int]) -> float:
    """User + system time of the masters' worker processes so far."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) in masters:
                ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def load(served: list[tuple[str, int]], lua: Path, seconds: int) -> Load:
    """``wrk`` against the servers, with their CPU time per request."""
    masters = [pid for _url, pid in served]
    before = cpu_seconds(masters)
    measured, answered = wrk([url for url, _pid in served], lua, seconds)
    cpu_ms = (cpu_seconds(masters) - before) / answered * 1000
    return Load(measured.rate, measured.p99, cpu_ms)


def wrk(urls: list[str], lua: Path, seconds: int) -> tuple[Load, int]:
    """One ``wrk`` per URL at once, the connections shared out: requests per second (summed), the
    p99 latency in ms (the worst of them), and the number of requests answered."""
    runs = [
        subprocess.Popen(
            [
                *("wrk", f"-t{max(1, 2 // len(urls))}", f"-c{CONNECTIONS // len(urls)}"),
                *(f"-d{seconds}s", "--latency", "-s", str(lua), url),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for url in urls
    ]
    parsed = [_parse_wrk(run.communicate()[0], url) for run, url in zip(runs, urls, strict=True)]
    rate, p99 = sum(one.rate for one, _n in parsed), max(one.p99 for one, _n in parsed)
    return Load(rate, p99), sum(n for _one, n in parsed)


def _parse_wrk(out: str, url: str) -> tuple[Load, int]:
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"wrk saw {errors.group(1)} failed responses at {url}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()
    answered = int(re.search(r"(\d+) requests in", out).group(1))
    return Load(rate, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]), answered


@contextlib.contextmanager
def scratch_schema(postgres: str) -> Iterator[str]:
    """A schema of its own in ``postgres``'s database, dropped afterwards; its URL."""
    schema = f"bench_api_{os.getpid()}"
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield f"{postgres}?options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def prepare(
    var: Path, database_url: str, population: int, base_env: dict, steady_rate: float = STEADY_RATE
) -> Service:
    """A seeded registry, an institution key, inquiry bodies and a linked virtual card."""
    var.mkdir()
    env = {**base_env, "ELIGSIM_VAR_DIR": str(var), "DATABASE_URL": database_url}
    registry = Registry(database_url)
    migrate(registry)
    seed_population(registry, population, seed=7)
    with registry.begin() as conn:
        key = add_institution(conn, "1311234567", "ベンチ内科")
        rows = conn.execute(
            qualifications.select().where(qualifications.c.lost_on.is_(None)).limit(500)
        ).all()
        births = dict(conn.execute(select(persons.c.id, persons.c.birth_date)).all())
    bodies = [_inquiry(row.insured_number, births[row.person_id]) for row in rows]
    (var / "bodies.jsonl").write_text("\n".join(json.dumps(b) for b in bodies) + "\n")
    lua, paced_lua = load_scripts(var, key, steady_rate)
    state = issue_card(
        Authority(var / "jpki"),
        SurfaceAttributes("ベンチ 太郎", "東京都", births[rows[0].person_id], "1"),
        pin="1234",
    )
    certificate = auth_certificate(state)
    with registry.begin() as conn:
        link_card(
            conn,
            rows[0].insured_number,
            certificate.issuer.rfc4514_string(),
            certificate.serial_number,
        )
    registry.dispose()
    return Service(env, key, lua, paced_lua, VirtualCard(state))


def _inquiry(insured_number: str, birth_date: object) -> dict:
    number = parse_insured_number(insured_number)
    return {
        "insurer_number": number.insurer,
        "symbol": number.symbol,
        "number": number.number,
        "branch": number.branch,
        "birth_date": str(birth_date),
    }


@dataclass(frozen=True)
class Pair:
    """The bare endpoint and the checks, each at full load and at the steady rate."""

    bare: Load
    checks: Load
    bare_steady: Load
    checks_steady: Load


def side_by_side(service: Service, seconds: int, count: int, workers: int) -> Pair:
    """The bare endpoint, then the checks, served the same way, each driven as fast as answers come
    and then at the steady rate; the audit chain verified after."""
    measured = []
    for app, chdir in (("bench_bare_app:app", SCRIPTS), ("app:create_app()", ROOT)):
        with servers(app, service.env, count, workers, chdir=chdir) as served:
            measured.append(
                (load(served, service.lua, seconds), load(served, service.paced_lua, seconds))
            )
    settings = load_settings(service.env)
    registry = Registry(settings.database_url)
    with registry.connect() as conn:
        report = verify_chain(conn, AuditTrail.for_settings(settings))
    registry.dispose()
    if not report.intact:
        raise SystemExit(f"the audit chain is broken after the load: {report.reason}")
    (bare, bare_steady), (checks, checks_steady) = measured
    return Pair(bare, checks, bare_steady, checks_steady)


def card_visits_per_second(url: str, key: str, card: VirtualCard, seconds: float) -> float:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    client = JpkiClient(InProcessTransport(card))
    client.select_application()
    certificate = base64.b64encode(client.read_auth_certificate()).decode()
    done, deadline = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        issued = session.post(f"{url}/api/v1/card-sessions").json()
        client.verify_auth_pin("1234")
        signature = client.sign_challenge(base64.b64decode(issued["challenge"]))
        answer = {"certificate": certificate, "signature": base64.b64encode(signature).decode()}
        response = session.post(
            f"{url}/api/v1/card-sessions/{issued['session_id']}/verification", json=answer
        )
        response.raise_for_status()
        done += 1
    return done / (time.perf_counter() - started)


def card_ceiling(card: VirtualCard, authority: Authority, rounds: int = 200) -> float:
    """Card visits per second if a visit cost only its RSA work, in process: the card's signature
    over the challenge (as the client above makes it) and the two verifications of the service
    (certificate by its root, challenge by the certificate), as ``scripts/bench card`` times them."""
    client = JpkiClient(InProcessTransport(card))
    client.select_application()
    client.verify_auth_pin("1234")
    started = time.perf_counter()
    for _ in range(rounds):
        client.sign_challenge(os.urandom(32))
    sign_seconds = (time.perf_counter() - started) / rounds
    samples, issuer_keys = make_samples(authority, rounds)
    verify_seconds = 1 / max(raw_rsa_rate(samples, issuer_keys) for _ in range(3))
    return 1 / (sign_seconds + verify_seconds)


def batch_seconds(url: str, key: str, bodies: list[dict], env: dict, size: int) -> float:
    workers = [
        subprocess.Popen(
            [VENV_BIN / "eligsim", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        time.sleep(1.0)  # let both workers register
        inquiries = [bodies[i % len(bodies)] for i in range(size)]
        headers = {"Authorization": f"Bearer {key}"}
        started = time.perf_counter()
        number = requests.post(
            f"{url}/api/v1/batches", json={"inquiries": inquiries}, headers=headers
        ).json()["reception_number"]
        while True:
            status = requests.get(f"{url}/api/v1/batches/{number}", headers=headers).json()
            if status["status"] in ("done", "failed"):
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        if status["status"] != "done" or status["processed"] != size:
            raise SystemExit(f"batch ended {status['status']} with {status['processed']} of {size}")
        return elapsed
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait()


def print_pair(label: str, pair: Pair) -> None:
    print(f"{label}")
    rows = (
        ("bare Flask JSON endpoint", pair.bare, pair.bare_steady),
        ("checks by number", pair.checks, pair.checks_steady),
    )
    for name, full, steady in rows:
        print(
            f"  {name:28} {full.rate:8,.0f} req/s   p99 {full.p99:6.1f} ms"
            f"   CPU {full.cpu_ms:5.2f} ms/request"
            f"   | steady {steady.rate:5,.0f} req/s: p99 {steady.p99:6.1f} ms"
        )
    print(
        f"  {'ratio':28} {pair.checks.rate / pair.bare.rate:8.2f}         (aim >= 0.5, p99 <= 50 ms)"
        f"   CPU {pair.bare.cpu_ms / pair.checks.cpu_ms:5.2f} (bare / checks: the ratio's ceiling)"
    )


def against(rev: str, service: Service, seconds: int, rounds: int) -> None:
    """Checks served by this tree and by ``rev``'s (a git worktree), in alternating rounds on one
    SQLite registry (two worker processes): the median rate, p99 and CPU per check of each, so a
    change is judged beside what it changes on a machine whose other load swings. ``rev`` must share
    this tree's migrations (its service opens the registry this tree migrated)."""
    measured: dict[str, list[Load]] = {"this tree": [], rev: []}
    with tempfile.TemporaryDirectory() as tree:
        git = ["git", "-C", str(ROOT), "worktree"]
        subprocess.run([*git, "add", "--detach", tree, rev], check=True, capture_output=True)
        try:
            for _ in range(rounds):
                for name, chdir in (("this tree", ROOT), (rev, Path(tree))):
                    with servers("app:create_app()", service.env, 1, 2, chdir=chdir) as served:
                        measured[name].append(load(served, service.lua, seconds))
        finally:
            subprocess.run([*git, "remove", "--force", tree], check=True)
    print(f"checks by number, SQLite, 2 worker processes, medians of {rounds} alternating rounds")
    for name, loads in measured.items():
        rate, p99, cpu = (
            statistics.median(getattr(one, f) for one in loads) for f in ("rate", "p99", "cpu_ms")
        )
        print(f"  {name:28} {rate:8,.0f} req/s   p99 {p99:6.1f} ms   CPU {cpu:5.2f} ms/request")
        rounds_cpu = ", ".join(f"{one.cpu_ms:.2f}" for one in loads)
        print(f"  {'':28} (each round's CPU per check: {rounds_cpu} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=5000)
    parser.add_argument("--seconds", type=int, default=8, help="of each wrk run")
    parser.add_argument("--batch", type=int, default=10_000, help="0: no batch run")
    parser.add_argument(
        "--steady-rate", type=float, default=STEADY_RATE, help="req/s offered by the steady load"
    )
    parser.add_argument(
        "--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    )
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument(
        "--only",
        choices=["sqlite", "checks"],
        help="sqlite: the SQLite pair alone; checks: the three pairs, no card visits or batch",
    )
    parser.add_argument(
        "--against", metavar="REV", help="only: the checks of this tree beside REV's, alternating"
    )
    parser.add_argument("--rounds", type=int, default=3, help="of --against")
    args = parser.parse_args()
    redis.Redis.from_url(args.redis).flushdb()
    base_env = {
        **os.environ,
        "REDIS_URL": args.redis,
        "ELIGSIM_RATE_LIMIT": "100000000 per second",
        "ELIGSIM_INQUIRY_RATE_LIMIT": "100000000 per second",
        "ELIGSIM_JOB_QUEUE": f"bench-{os.getpid()}",
    }
    with tempfile.TemporaryDirectory() as scratch, scratch_schema(args.postgres) as postgres:
        var = Path(scratch)
        print(f"preparing the registries of {args.persons:,} persons ...", file=sys.stderr)
        on_sqlite = prepare(
            var / "sqlite",
            f"sqlite:///{var / 'sqlite.db'}",
            args.persons,
            base_env,
            args.steady_rate,
        )
        if args.against:
            against(args.against, on_sqlite, args.seconds, args.rounds)
            return
        pairs = {
            "SQLite, one gunicorn of 2 worker processes": side_by_side(
                on_sqlite, args.seconds, 1, 2
            ),
            # one process: its audit writer never meets another process's at SQLite's write lock
            "SQLite, one gunicorn of 1 worker process": side_by_side(on_sqlite, args.seconds, 1, 1),
        }
        if args.only != "sqlite":
            on_postgres = prepare(
                var / "postgres", postgres, args.persons, base_env, args.steady_rate
            )
            pairs["PostgreSQL, one gunicorn of 2 worker processes"] = side_by_side(
                on_postgres, args.seconds, 1, 2
            )
            pairs["PostgreSQL, two service processes (gunicorn masters), one Redis"] = side_by_side(
                on_postgres, args.seconds, 2, 1
            )
        print(
            "(full load: 16 connections, each sending as soon as answered; steady: the same "
            f"connections paced with random think times to offer about {args.steady_rate} req/s)"
        )
        for label, pair in pairs.items():
            print_pair(label, pair)
        if args.only is None:
            cards_and_batch(var, on_sqlite, args)
        redis.Redis.from_url(args.redis).flushdb()


def cards_and_batch(var: Path, on_sqlite: Service, args: argparse.Namespace) -> None:
    with gunicorn("app:create_app()", on_sqlite.env, 2) as url:
        visits = card_visits_per_second(url, on_sqlite.key, on_sqlite.card, args.seconds / 2)
        bodies = [json.loads(line) for line in (var / "sqlite" / "bodies.jsonl").open()]
        batch = args.batch and batch_seconds(url, on_sqlite.key, bodies, on_sqlite.env, args.batch)
    ceiling = card_ceiling(on_sqlite.card, Authority(var / "sqlite" / "jpki"))
    print(
        f"{'card session + verification':40} {visits:8,.1f} /s   in-process RSA ceiling "
        f"{ceiling:,.0f} /s (sign + 2 verifies)"
    )
    if args.batch:
        print(
            f"{f'{args.batch:,} batch inquiries, 2 RQ workers':40} {batch:8.1f} s    (aim <= 30 s)"
        )


if __name__ == "__main__":
    main()
