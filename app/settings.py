"""Every setting of the simulator, read from environment variables, with its documented default.

This is the one place where the environment is read; the README's configuration table mirrors it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

Number = TypeVar("Number", int, float)
TEN_YEARS_IN_HOURS = 87_600.0
ONE_DAY_IN_SECONDS = 86_400
MOST_THREADS = 256
MOST_PROXY_HOPS = 5


@dataclass(frozen=True)
class Settings:
    var_dir: Path
    database_url: str
    redis_url: str | None
    consent_ttl_hours: float
    jpki_dir: Path
    rate_limit: str
    inquiry_rate_limit: str
    portal_rate_limit: str
    # per account, apart from every other limit: each search may show strangers' kana and birth dates
    disaster_search_rate_limit: str
    challenge_ttl_seconds: int
    batch_result_ttl_hours: float
    job_queue: str
    # request threads of each `eligsim serve` worker process: concurrent requests of one process
    # share the audit log's group commit
    serve_threads: int
    # proxies in front of the service whose X-Forwarded-For and X-Forwarded-Proto it believes: 0
    # when clients reach it directly (their address then counts, whatever they claim)
    proxy_hops: int
    audit_key_file: Path
    audit_checkpoints: Path
    # keys given in ELIGSIM_AUDIT_KEY, newest first; empty: the key file holds them
    audit_keys: tuple[bytes, ...] = field(repr=False)

    @property
    def default_card_dir(self) -> Path:
        return self.var_dir / "cards"


class SettingsError(ValueError):
    """An environment variable holds a value the simulator cannot use."""


def _number(
    env: Mapping[str, str], name: str, default: str, kind: Callable[[str], Number], most: Number
) -> Number:
    """A finite number above 0 and at most ``most``: ``float`` also reads "inf" and "nan", and a
    lifetime past the calendar's end would make every expiry the service computes overflow."""
    text = env.get(name, default)
    try:
        value = kind(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a number") from None
    if not (math.isfinite(value) and 0 < value <= most):
        raise SettingsError(f"{name} must be a number above 0 and at most {most:g}, not {text!r}")
    return value


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read settings from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    var_dir = Path(env.get("ELIGSIM_VAR_DIR", "var"))
    return Settings(
        var_dir=var_dir,
        database_url=env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'registry.db'}",
        redis_url=env.get("REDIS_URL") or None,
        consent_ttl_hours=_number(
            env, "ELIGSIM_CONSENT_TTL_HOURS", "24", float, TEN_YEARS_IN_HOURS
        ),
        jpki_dir=Path(env.get("ELIGSIM_JPKI_DIR") or var_dir / "jpki"),
        rate_limit=env.get("ELIGSIM_RATE_LIMIT", "1200 per minute"),
        inquiry_rate_limit=env.get("ELIGSIM_INQUIRY_RATE_LIMIT", "20000 per hour"),
        portal_rate_limit=env.get("ELIGSIM_PORTAL_RATE_LIMIT", "30 per minute"),
        disaster_search_rate_limit=env.get(
            "ELIGSIM_DISASTER_SEARCH_RATE_LIMIT", "6 per minute;60 per hour"
        ),
        challenge_ttl_seconds=_number(
            env, "ELIGSIM_CHALLENGE_TTL_SECONDS", "120", int, ONE_DAY_IN_SECONDS
        ),
        batch_result_ttl_hours=_number(
            env, "ELIGSIM_BATCH_RESULT_TTL_HOURS", "72", float, TEN_YEARS_IN_HOURS
        ),
        job_queue=env.get("ELIGSIM_JOB_QUEUE") or "eligsim-jobs",
        serve_threads=_number(env, "ELIGSIM_SERVE_THREADS", "8", int, MOST_THREADS),
        proxy_hops=_proxy_hops(env.get("ELIGSIM_PROXY_HOPS", "0")),
        audit_key_file=Path(env.get("ELIGSIM_AUDIT_KEY_FILE") or var_dir / "audit" / "hmac.key"),
        audit_checkpoints=Path(
            env.get("ELIGSIM_AUDIT_CHECKPOINTS") or var_dir / "audit" / "checkpoints.jsonl"
        ),
        audit_keys=_audit_keys(env.get("ELIGSIM_AUDIT_KEY", "")),
    )


def _proxy_hops(text: str) -> int:
    if not (text.isascii() and text.isdigit() and int(text) <= MOST_PROXY_HOPS):
        raise SettingsError(
            f"ELIGSIM_PROXY_HOPS must be a whole number from 0 to {MOST_PROXY_HOPS}, not {text!r}"
        )
    return int(text)


AUDIT_KEY_BYTES = 32


def _audit_keys(text: str) -> tuple[bytes, ...]:
    """Hex keys separated by commas, newest first: a deployment that injects its secrets rotates by
    putting the new key first and keeping the old ones after it, for verification."""
    keys = []
    for part in filter(None, (part.strip() for part in text.split(","))):
        try:
            key = bytes.fromhex(part)
        except ValueError:
            raise SettingsError("ELIGSIM_AUDIT_KEY must be hex keys separated by commas") from None
        if len(key) < AUDIT_KEY_BYTES:
            raise SettingsError(
                f"ELIGSIM_AUDIT_KEY: each key needs at least {AUDIT_KEY_BYTES} bytes "
                f"({2 * AUDIT_KEY_BYTES} hex digits)"
            )
        keys.append(key)
    return tuple(keys)
