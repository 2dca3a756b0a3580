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
    secret_key: str | None

    @property
    def default_card_dir(self) -> Path:
        return self.var_dir / "cards"


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read settings from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    var_dir = Path(env.get("ELIGSIM_VAR_DIR", "var"))
    return Settings(
        var_dir=var_dir,
        database_url=env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'registry.db'}",
        redis_url=env.get("REDIS_URL") or None,
        consent_ttl_hours=float(env.get("ELIGSIM_CONSENT_TTL_HOURS", "24")),
        jpki_dir=Path(env.get("ELIGSIM_JPKI_DIR") or var_dir / "jpki"),
        secret_key=env.get("SECRET_KEY") or None,
    )
