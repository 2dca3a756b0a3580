#!/usr/bin/env python3
"""Card benchmark (issue 3): the full card cycle through the real pcscd, and verification speed.

1. A virtual card (fresh simulated authority in a temporary directory, nothing written to var/) is
   served to pcscd through vpcd and read as "Virtual PCD 00 00": select → read certificate → tries →
   verify PIN → sign, ROUNDS times; prints the median and p95 of the whole cycle (target ≤ 50 ms).
2. In-process verification of SAMPLES card sessions (each its own certificate) through
   ``TrustStore.verify`` (chain, validity, key usage, signature, CRL), against the rate of the same
   RSA verifications done directly with ``cryptography`` in the same run (target ratio ≥ 0.5).
   Best of three runs each.

Needs pcscd running with the vpcd driver (``scripts/bench card`` starts it). Usage:
    .venv/bin/python scripts/bench_card.py [--rounds 200] [--samples 2000] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

from card_reader import pcsc
from card_reader.authority import Authority
from card_reader.bench import make_samples, raw_rsa_rate, run_bench, verification_rate
from card_reader.card_file import save_card
from card_reader.errors import CardError
from card_reader.issuance import issue_card
from card_reader.surface import SurfaceAttributes
from card_reader.verify import TrustStore
from card_reader.virtual_card import VirtualCard
from card_reader.vpcd import VirtualCardServer, reader_name

PIN = "1234"
HOLDER = SurfaceAttributes("試験 花子", "東京都千代田区霞が関1-2-2", date(1985, 4, 1), "2")
CYCLE_TARGET_MS, RATIO_TARGET = 50.0, 0.5


def card_cycle(authority: Authority, workdir: Path, rounds: int) -> dict:
    path = workdir / "bench.card"
    save_card(path, issue_card(authority, HOLDER, PIN))
    server = VirtualCardServer(VirtualCard.load(path)).start()
    try:
        pcsc.wait_for_card(reader_name(), timeout=10)
        transport = pcsc.connect(reader_name())
        try:
            report = run_bench(transport, PIN, rounds)
        finally:
            transport.close()
    finally:
        server.stop()
    return report.summary()


def verification(authority: Authority, count: int) -> dict:
    samples, issuer_keys = make_samples(authority, count)
    store = TrustStore.for_authority(authority, revocation="crl")
    now = datetime.now(UTC)
    verified = max(verification_rate(store, samples, now) for _ in range(3))
    raw = max(raw_rsa_rate(samples, issuer_keys) for _ in range(3))
    return {
        "samples": count,
        "verify_per_s": round(verified),
        "raw_rsa_per_s": round(raw),
        "ratio": round(verified / raw, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="eligsim-bench-") as tmp:
        authority = Authority(Path(tmp) / "jpki")
        try:
            cycle = card_cycle(authority, Path(tmp), args.rounds)
        except (CardError, TimeoutError) as error:
            print(f"bench_card: {error}", file=sys.stderr)
            return 1
        speed = verification(authority, args.samples)
    if args.json:
        print(json.dumps({"card_cycle": cycle, "verification": speed}, ensure_ascii=False))
        return 0
    total = cycle["total_ms"]
    verdict = "ok" if total["median"] and total["median"] <= CYCLE_TARGET_MS else "MISSED"
    print(
        f"card cycle through pcscd ({cycle['reader']}, {cycle['completed']}/{args.rounds} rounds,"
    )
    print(
        f"  errors {cycle['errors'] or 'none'}): median {total['median']} ms, p95 {total['p95']} ms"
    )
    print(f"  target median <= {CYCLE_TARGET_MS:g} ms: {verdict}")
    steps = ", ".join(f"{name} {s['median']}" for name, s in cycle["steps_ms"].items())
    print(f"  step medians (ms): {steps}")
    verdict = "ok" if speed["ratio"] >= RATIO_TARGET else "MISSED"
    print(
        f"verification: {speed['verify_per_s']}/s through TrustStore.verify vs "
        f"{speed['raw_rsa_per_s']}/s raw RSA (2 verifies each), ratio {speed['ratio']}"
    )
    print(f"  target ratio >= {RATIO_TARGET}: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
