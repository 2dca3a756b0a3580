"""Timing the full card sequence (select → read certificate → tries → verify PIN → sign) against any
transport, and verification throughput against the raw RSA verify rate."""

from __future__ import annotations

import math
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from card_reader.authority import GENERATIONS, Authority, new_card_key
from card_reader.errors import CardError, PcscError, UnexpectedStatus
from card_reader.jpki import JpkiClient
from card_reader.transport import Transport
from card_reader.verify import TrustStore

STEPS = ("select", "read_certificate", "tries", "verify_pin", "sign")
_TRANSIENT = (UnexpectedStatus, PcscError)  # count and go on; anything else ends the bench


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _stats(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p95": None}
    return {"median": round(statistics.median(values), 3), "p95": round(percentile(values, 95), 3)}


@dataclass
class BenchReport:
    reader: str
    atr: str
    rounds: int
    steps: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    totals: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    stopped_by: str | None = None

    def summary(self) -> dict[str, Any]:
        """JSON-ready: milliseconds, ``total_ms`` with the median and p95 of whole sequences."""
        return {
            "reader": self.reader,
            "atr": self.atr,
            "rounds": self.rounds,
            "completed": len(self.totals),
            "errors": dict(self.errors),
            "stopped_by": self.stopped_by,
            "steps_ms": {name: _stats(times) for name, times in self.steps.items()},
            "total_ms": _stats(self.totals),
        }


def run_cycle(client: JpkiClient, pin: str) -> dict[str, float]:
    """One full sequence; returns the milliseconds of each step."""
    times: dict[str, float] = {}
    actions: dict[str, Callable[[], object]] = {
        "select": client.select_application,
        "read_certificate": client.read_auth_certificate,
        "tries": client.auth_pin_tries_left,
        "verify_pin": lambda: client.verify_auth_pin(pin),
        "sign": lambda: client.sign_challenge(os.urandom(32)),
    }
    for name, action in actions.items():
        start = time.perf_counter()
        action()
        times[name] = (time.perf_counter() - start) * 1000
    return times


def run_bench(
    transport: Transport, pin: str, rounds: int, on_round: Callable[[], None] | None = None
) -> BenchReport:
    """Run the sequence ``rounds`` times; transient errors are counted, others stop the bench."""
    report = BenchReport(transport.reader_name, transport.atr.hex(" ").upper(), rounds)
    client = JpkiClient(transport)
    for _ in range(rounds):
        try:
            times = run_cycle(client, pin)
        except _TRANSIENT as error:
            report.errors[error.code] += 1
        except CardError as error:
            report.errors[error.code] += 1
            report.stopped_by = str(error)
            break
        else:
            for name, ms in times.items():
                report.steps[name].append(ms)
            report.totals.append(sum(times.values()))
        if on_round:
            on_round()
    return report


@dataclass(frozen=True)
class Sample:
    """What a card sends for one session: its certificate, the challenge and the signature."""

    certificate_der: bytes
    challenge: bytes
    signature: bytes


def verification_rate(store: TrustStore, samples: Sequence[Sample], at: datetime) -> float:
    """Verifications per second through ``TrustStore.verify``; all must pass."""
    start = time.perf_counter()
    for s in samples:
        result = store.verify(s.certificate_der, s.signature, s.challenge, at)
        if not result.ok:
            raise AssertionError(f"bench sample failed verification: {result.code}")
    return len(samples) / (time.perf_counter() - start)


def raw_rsa_rate(samples: Sequence[Sample], issuer_keys: Sequence[rsa.RSAPublicKey]) -> float:
    """The same RSA verifications done directly with ``cryptography`` (certificate signature by its
    issuer, then the challenge signature), on objects parsed beforehand: samples per second."""
    prepared: list[tuple[rsa.RSAPublicKey, x509.Certificate, rsa.RSAPublicKey, Sample]] = []
    for s, issuer_key in zip(samples, issuer_keys, strict=True):
        cert = x509.load_der_x509_certificate(s.certificate_der)
        card_key = cert.public_key()
        if not isinstance(card_key, rsa.RSAPublicKey):
            raise ValueError(f"bench sample certificate {cert.serial_number} has no RSA key")
        prepared.append((issuer_key, cert, card_key, s))
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
    start = time.perf_counter()
    for issuer_key, cert, card_key, s in prepared:
        issuer_key.verify(cert.signature, cert.tbs_certificate_bytes, pkcs1, sha256)
        card_key.verify(s.signature, s.challenge, pkcs1, sha256)
    return len(prepared) / (time.perf_counter() - start)


def make_samples(
    authority: Authority, count: int, distinct_keys: int = 10
) -> tuple[list[Sample], list[rsa.RSAPublicKey]]:
    """``count`` card sessions, each with its own certificate (alternating root generations), and
    the issuing root's key of each; keys are reused to keep key generation out of the way."""
    keys = [new_card_key() for _ in range(distinct_keys)]
    samples, issuer_keys = [], []
    for i in range(count):
        key = keys[i % distinct_keys]
        generation = GENERATIONS[i % len(GENERATIONS)]
        cert = authority.issue_auth_certificate(
            key.public_key(), date(1980, 1, 1), None, generation
        )
        challenge = os.urandom(32)
        signature = key.sign(challenge, padding.PKCS1v15(), hashes.SHA256())
        samples.append(Sample(cert.public_bytes(serialization.Encoding.DER), challenge, signature))
        issuer_public_key = authority.issuer_of(cert).certificate.public_key()
        assert isinstance(issuer_public_key, rsa.RSAPublicKey)
        issuer_keys.append(issuer_public_key)
    return samples, issuer_keys
