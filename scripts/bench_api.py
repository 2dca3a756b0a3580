#!/usr/bin/env python3
"""API benchmark (issue 4), everything on loopback, load from separate processes:

1. Eligibility checks by number through gunicorn (2 workers by default), driven by ``wrk`` (Debian package),
   against a bare Flask JSON endpoint served the same way in the same run: throughput ratio
   (aim >= 0.5) and the p99 latency at that load (aim <= 50 ms).
2. Card session + PIN-mode verification per second (the client signs with an in-process card).
3. 10,000 batch inquiries through two ``eligsim worker`` processes on Redis (aim <= 30 s).

Needs wrk and Redis (``scripts/bench api`` makes sure of both). Usage:
    .venv/bin/python scripts/bench_api.py [--persons 5000] [--seconds 10] [--redis redis://127.0.0.1:6379/14]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import requests
from sqlalchemy import select

from app.database import migrate
from app.service.accounts import add_institution
from app.settings import load_settings
from card_reader.authority import Authority
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def gunicorn(app: str, env: dict, workers: int, chdir: Path = ROOT):
    port = free_port()
    process = subprocess.Popen(
        [
            VENV_BIN / "gunicorn",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--chdir",
            str(chdir),
            app,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(requests.ConnectionError, requests.Timeout):
                requests.get(url, timeout=5)
                break
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait()


def wrk(url: str, lua: Path, seconds: int) -> tuple[float, float]:
    """Requests per second and p99 latency in ms."""
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-s", str(lua), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"wrk saw {errors.group(1)} failed responses at {url}")
    return rate, p99


def prepare(var: Path, population: int) -> tuple[str, list[dict], VirtualCard]:
    """A seeded registry, an institution key, inquiry bodies and a linked virtual card."""
    registry = Registry(f"sqlite:///{var / 'registry.db'}")
    migrate(registry)
    seed_population(registry, population, seed=7)
    with registry.begin() as conn:
        key = add_institution(conn, "1311234567", "ベンチ内科")
        rows = conn.execute(
            qualifications.select().where(qualifications.c.lost_on.is_(None)).limit(500)
        ).all()
        births = dict(conn.execute(select(persons.c.id, persons.c.birth_date)).all())
    bodies = []
    for row in rows:
        number = parse_insured_number(row.insured_number)
        bodies.append(
            {
                "insurer_number": number.insurer,
                "symbol": number.symbol,
                "number": number.number,
                "branch": number.branch,
                "birth_date": str(births[row.person_id]),
            }
        )
    authority = Authority(var / "jpki")
    state = issue_card(
        authority,
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
    return key, bodies, VirtualCard(state)


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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=5000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers for both servers")
    parser.add_argument(
        "--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    )
    args = parser.parse_args()
    redis.Redis.from_url(args.redis).flushdb()
    with tempfile.TemporaryDirectory() as scratch:
        var = Path(scratch)
        print(f"preparing a registry of {args.persons:,} persons ...", file=sys.stderr)
        key, bodies, card = prepare(var, args.persons)
        lua = var / "checks.lua"
        (var / "bodies.jsonl").write_text("\n".join(json.dumps(b) for b in bodies) + "\n")
        lua.write_text(WRK_SCRIPT % (var / "bodies.jsonl", key))
        env = {
            **os.environ,
            "ELIGSIM_VAR_DIR": str(var),
            "REDIS_URL": args.redis,
            "ELIGSIM_RATE_LIMIT": "100000000 per second",
            "ELIGSIM_JOB_QUEUE": f"bench-{os.getpid()}",
        }
        assert load_settings(env).database_url.endswith("registry.db")
        with gunicorn("bench_bare_app:app", env, args.workers, chdir=SCRIPTS) as bare:
            bare_rate, bare_p99 = wrk(bare, lua, args.seconds)
        with gunicorn("app:create_app()", env, args.workers) as url:
            rate, p99 = wrk(url, lua, args.seconds)
            visits = card_visits_per_second(url, key, card, args.seconds / 2)
            batch = batch_seconds(url, key, bodies, env, args.batch)
        redis.Redis.from_url(args.redis).flushdb()
    print(
        f"{'eligibility checks by number':40} {rate:10,.0f} req/s   p99 {p99:6.1f} ms  (aim p99 <= 50 ms)"
    )
    print(
        f"{'bare Flask JSON endpoint, same server':40} {bare_rate:10,.0f} req/s   p99 {bare_p99:6.1f} ms"
    )
    print(f"{'  ratio':40} {rate / bare_rate:10.2f}          (aim >= 0.5)")
    print(f"{'card session + verification':40} {visits:10,.1f} /s")
    print(
        f"{f'{args.batch:,} batch inquiries, 2 RQ workers':40} {batch:10.1f} s       (aim <= 30 s)"
    )


if __name__ == "__main__":
    main()
