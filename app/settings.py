"""Every setting of the simulator, read from environment variables, with its documented default.

This is the one place where the environment is read; the README's configuration table mirrors it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    var_dir: Path
    database_url: str
    redis_url: str | None
    consent_ttl_hours: float
    jpki_dir: Path
    rate_limit: str
    challenge_ttl_seconds: int
    batch_result_ttl_hours: float
    job_queue: str

    @property
    def default_card_dir(self) -> Path:
        return self.var_dir / "cards"


class SettingsError(ValueError):
    """An environment variable holds a value the simulator cannot use."""


def _number(env, name: str, default: str, kind: type = float):
    text = env.get(name, default)
    try:
        value = kind(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a number") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, not {text}")
    return value


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read settings from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    var_dir = Path(env.get("ELIGSIM_VAR_DIR", "var"))
    return Settings(
        var_dir=var_dir,
        database_url=env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'registry.db'}",
        redis_url=env.get("REDIS_URL") or None,
        consent_ttl_hours=_number(env, "ELIGSIM_CONSENT_TTL_HOURS", "24"),
        jpki_dir=Path(env.get("ELIGSIM_JPKI_DIR") or var_dir / "jpki"),
        rate_limit=env.get("ELIGSIM_RATE_LIMIT", "1200 per minute"),
        challenge_ttl_seconds=_number(env, "ELIGSIM_CHALLENGE_TTL_SECONDS", "120", int),
        batch_result_ttl_hours=_number(env, "ELIGSIM_BATCH_RESULT_TTL_HOURS", "72"),
        job_queue=env.get("ELIGSIM_JOB_QUEUE") or "eligsim-jobs",
    )
