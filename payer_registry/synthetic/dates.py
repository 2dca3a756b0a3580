"""Dates while generating are day ordinals; rows carry them as ISO text, which every database reads."""

from __future__ import annotations

import datetime as dt
from functools import cache


@cache
def iso(ordinal: int) -> str:
    """``YYYY-MM-DD`` of a day ordinal (cached: a population reuses a few tens of thousands of days)."""
    return dt.date.fromordinal(ordinal).isoformat()
