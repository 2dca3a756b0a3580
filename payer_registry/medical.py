"""Medical information held for a person (docs/rules.md §5), read page by page within a date range."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from payer_registry.checkup_items import ITEMS, QUALITATIVE, URINE_RESULTS
from payer_registry.models import RECORD_SECTIONS

# category -> (table section, date column, extra condition on the procedure kind)
_SOURCES = {
    "medication": ("medications", "dispensed_on", None),
    "checkup": ("checkups", "examined_on", None),
    "clinical": ("procedures", "performed_on", "clinical"),
    "surgery": ("procedures", "performed_on", "surgery"),
}


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict]
    total: int
    page: int
    page_size: int


def medical_page(
    conn: Connection,
    person_id: int,
    category: str,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    page: int = 1,
    page_size: int = 50,
) -> Page:
    """One page of a category's records, newest first."""
    section, date_column, kind = _SOURCES[category]
    table = RECORD_SECTIONS[section]
    when = table.c[date_column]
    conditions = [table.c.person_id == person_id]
    if kind:
        conditions.append(table.c.kind == kind)
    if date_from:
        conditions.append(when >= date_from)
    if date_to:
        conditions.append(when <= date_to)
    total = conn.execute(select(func.count()).select_from(table).where(*conditions)).scalar_one()
    columns = [c for c in table.c if c.name not in ("id", "person_id", "kind")]
    rows = conn.execute(
        select(*columns)
        .where(*conditions)
        .order_by(when.desc(), table.c.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    shape = _checkup_items if category == "checkup" else dict
    return Page([shape(row._asdict()) for row in rows], total, page, page_size)


def _checkup_items(row: dict) -> dict:
    """A checkup with its items listed under their XML checkup codes (健診項目コード)."""
    items = [
        {"code": item.code, "name": item.label, "value": row.pop(item.column), "unit": item.unit}
        for item in ITEMS
    ]
    for item in items:
        if item["value"] in URINE_RESULTS and item["code"] in _QUALITATIVE_CODES:
            item["text"] = URINE_RESULTS[item["value"]]
    return {**row, "items": [item for item in items if item["value"] is not None]}


_QUALITATIVE_CODES = {item.code for item in ITEMS if item.column in QUALITATIVE}
