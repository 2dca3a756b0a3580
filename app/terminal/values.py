"""Values as the terminal's files carry them: ``YYYYMMDD`` dates, ``YYYYMMDDHHMMSS`` times in Japan,
3-digit ratios, half-width katakana, and the real system's codes."""

from __future__ import annotations

import datetime as dt
import unicodedata

from payer_registry.eligibility import JAPAN

# flag of a consent in a result: 0 not given, 1 given, 2 expired, 3 could not be asked (not offered)
NOT_GIVEN, GIVEN, EXPIRED, NOT_ASKED = "0", "1", "2", "3"


def date_text(value: dt.date | str | None) -> str | None:
    """``YYYYMMDD`` (from a date or ISO text)."""
    if value is None or value == "":
        return None
    day = dt.date.fromisoformat(value) if isinstance(value, str) else value
    return day.strftime("%Y%m%d")


def time_text(value: dt.datetime | str | None) -> str | None:
    """``YYYYMMDDHHMMSS`` in Japan time (from an aware datetime or ISO text)."""
    if value is None or value == "":
        return None
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(JAPAN).strftime("%Y%m%d%H%M%S")


def parse_date(text: str) -> dt.date:
    """A ``YYYYMMDD`` date; ValueError otherwise."""
    if len(text) != 8 or not text.isdigit():
        raise ValueError(f"{text!r} is not a YYYYMMDD date")
    return dt.datetime.strptime(text, "%Y%m%d").date()


def ratio_text(percent: int | None) -> str | None:
    """A ratio in percent as three digits: 30 -> ``030``."""
    return None if percent is None else f"{percent:03d}"


def _half_width_table() -> dict[str, str]:
    table: dict[str, str] = {"\u3000": " "}
    halves = [chr(code) for code in range(0xFF61, 0xFFA0)]
    for half in halves:
        table.setdefault(unicodedata.normalize("NFKC", half), half)
    for full, half in list(table.items()):
        for mark, half_mark in (("\u3099", "\uff9e"), ("\u309a", "\uff9f")):
            voiced = unicodedata.normalize("NFC", full + mark)
            if len(voiced) == 1 and voiced != full:
                table[voiced] = half + half_mark
    return table


_HALF_WIDTH = str.maketrans(_half_width_table())


def half_width_kana(text: str | None) -> str | None:
    """Full-width katakana (and spaces) as the half-width katakana real clients read: ヤマダ タロウ ->
    ﾔﾏﾀﾞ ﾀﾛｳ; ASCII full-width forms become ASCII."""
    if text is None:
        return None
    ascii_folded = "".join(
        unicodedata.normalize("NFKC", char) if "\uff01" <= char <= "\uff5e" else char
        for char in text
    )
    return ascii_folded.translate(_HALF_WIDTH)
