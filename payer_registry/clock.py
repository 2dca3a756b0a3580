"""Time in one convention: stored and compared in UTC, aware datetimes only."""

from __future__ import annotations

import datetime as dt


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; the registry stores UTC, so naive means UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
