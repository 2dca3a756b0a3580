"""Long writes in short transactions: many records written a chunk at a time, so that a large import
or payer upload never holds the database's write lock (SQLite) or the audit head for long.

All or nothing, as the user sees it: the records are validated whole first and wait, invisible, in
``staged_records`` (filled in short transactions); once every one is there the import turns
``applying`` — its commit point — and is then written into the registry a chunk at a time, each
chunk with its position in the journal row. A process that dies before the commit point leaves
staged rows nobody sees (dropped later); one that dies after it leaves an import that any later run
completes (``unfinished_imports``), where it stopped. A payer upload, whose records already wait in
its own row, has a journal row of kind ``upload`` (``open_journal``) and is written the same way."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection, Row, delete, select, update

from payer_registry.clock import now_utc
from payer_registry.db import Registry
from payer_registry.exporter import to_json_line
from payer_registry.models import StagedImport, StagedRecord, table_of
from payer_registry.records import PERSON_RECORD

staged_imports = table_of(StagedImport)
staged_records = table_of(StagedRecord)
CHUNK_RECORDS = 200  # records written per transaction
# on SQLite fewer: a chunk holds the whole database's write lock, and checks' audit entries wait
# for it (measured: 200 records held it ~50 ms, the checks' p99 86 ms during a 30k import)
SQLITE_CHUNK_RECORDS = 50
SQLITE_PAUSE = 3  # on SQLite, a pause of 3 times the lock's holding time follows each chunk
STAGE_EVERY = 500  # records staged per transaction
ABANDONED_AFTER = dt.timedelta(
    minutes=5
)  # a staging import untouched this long has lost its process


@dataclass(frozen=True, slots=True)
class Pending:
    """A validated record waiting to be written; ``line`` is where it came from (1-based)."""

    position: int
    line: int
    record: dict
    anchor: str | None = None


class Journal(Protocol):
    """The row that holds a long write's position, and the records it writes."""

    def next_position(self, conn: Connection) -> int | None:
        """The position of the next record to write, as last committed; None when none is left."""

    def claim(self, conn: Connection) -> int | None:
        """Lock the row for this transaction (concurrent runs take turns) and return the position of
        the next record to write; None when there is none left."""

    def pending(self, conn: Connection, start: int, count: int) -> Iterator[Pending]:
        """At most ``count`` records from position ``start`` on, in order."""

    def advance(self, conn: Connection, position: int) -> None:
        """Every record before ``position`` is written (in this transaction)."""


WriteChunk = Callable[[Connection, list[Pending]], None]
"""Writes a chunk's records in the chunk's transaction, audit entries included."""


def write_in_chunks(
    registry: Registry,
    journal: Journal,
    write: WriteChunk,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Write the journal's pending records, a short transaction of ``CHUNK_RECORDS`` at a time
    (at most ``SQLITE_CHUNK_RECORDS`` on SQLite), until none is left; ``progress`` is told the
    position after each chunk.

    A chunk's records are read and decoded before its transaction, which then holds the write
    lock for the writing only. ``write`` should append the chunk's audit entries last, as appending
    locks the audit head (on PostgreSQL its row) until the commit, for every check too. On SQLite,
    whose waiting writers poll for the lock at growing intervals (up to 100 ms), the lock stays
    free after each chunk for ``SQLITE_PAUSE`` times the time it was held (reading the next chunk
    counts), so that they find it free at their first polls, before the intervals grow."""
    free_at = 0.0  # when a waiting writer has had its turn (SQLite)
    on_sqlite = registry.dialect == "sqlite"
    size = min(CHUNK_RECORDS, SQLITE_CHUNK_RECORDS) if on_sqlite else CHUNK_RECORDS
    while True:
        with registry.connect() as conn:  # read and decoded before taking the write lock
            start = journal.next_position(conn)
            if start is None:
                return
            chunk = list(journal.pending(conn, start, size))
        time.sleep(max(0.0, free_at - time.perf_counter()))
        with registry.begin() as conn:
            if journal.claim(conn) != start:
                continue  # another run wrote them meanwhile: read on from where it stopped
            locked = time.perf_counter()
            write(conn, chunk)
            position = chunk[-1].position + 1
            journal.advance(conn, position)
        done = time.perf_counter()
        if on_sqlite:
            free_at = done + (done - locked) * SQLITE_PAUSE
        if progress:
            progress(position)


# --- staged imports -----------------------------------------------------------------------------


class Stager:
    """Fills one staged import: records added are stored a transaction of ``STAGE_EVERY`` at a
    time; ``commit`` makes the import ``applying``, ``drop`` removes it and what it staged."""

    def __init__(self, registry: Registry, merge: bool, author: str) -> None:
        self.registry = registry
        self.import_id = str(uuid.uuid4())
        self.staged = 0
        self._buffer: list[dict] = []
        with registry.begin() as conn:
            conn.execute(
                staged_imports.insert().values(
                    id=self.import_id,
                    kind="import",
                    state="staging",
                    merge=merge,
                    author=author,
                    total=0,
                    written=0,
                    touched_at=now_utc(),
                )
            )

    def add(self, line: int, record: dict, anchor: str | None) -> None:
        self._buffer.append(
            {
                "import_id": self.import_id,
                "position": self.staged + len(self._buffer),
                "line": line,
                "anchor": anchor,
                "record": to_json_line(record),
            }
        )
        if len(self._buffer) >= STAGE_EVERY:
            self._flush()

    def commit(self) -> None:
        """Every record is staged: from now on the import is completed, whatever happens."""
        self._flush(state="applying")

    def drop(self) -> None:
        drop_import(self.registry, self.import_id)

    def _flush(self, state: str = "staging") -> None:
        with self.registry.begin() as conn:
            if self._buffer:
                conn.execute(staged_records.insert(), self._buffer)
            self.staged += len(self._buffer)
            found = conn.execute(
                update(staged_imports)
                .where(staged_imports.c.id == self.import_id, staged_imports.c.state == "staging")
                .values(state=state, total=self.staged, touched_at=now_utc())
            )
            if found.rowcount != 1:
                raise LookupError(f"staged import {self.import_id} was dropped while it was staged")
        self._buffer.clear()


@dataclass(frozen=True, slots=True)
class StagedJournal:
    """The journal of one staged import: its row, and its staged records."""

    import_id: str

    def next_position(self, conn: Connection) -> int | None:
        found = select(staged_imports.c.written, staged_imports.c.total).where(
            staged_imports.c.id == self.import_id, staged_imports.c.state == "applying"
        )
        return _next(conn.execute(found).first())

    def claim(self, conn: Connection) -> int | None:
        claimed = conn.execute(
            update(staged_imports)
            .where(staged_imports.c.id == self.import_id, staged_imports.c.state == "applying")
            .values(touched_at=now_utc())
            .returning(staged_imports.c.written, staged_imports.c.total)
        ).first()
        return _next(claimed)

    def pending(self, conn: Connection, start: int, count: int) -> Iterator[Pending]:
        rows = conn.execute(
            select(staged_records)
            .where(staged_records.c.import_id == self.import_id, staged_records.c.position >= start)
            .order_by(staged_records.c.position)
            .limit(count)
        ).all()
        for row in rows:
            record = PERSON_RECORD.load(json.loads(row.record))
            yield Pending(row.position, row.line, record, row.anchor)

    def advance(self, conn: Connection, position: int) -> None:
        conn.execute(
            delete(staged_records).where(
                staged_records.c.import_id == self.import_id, staged_records.c.position < position
            )
        )
        conn.execute(
            update(staged_imports)
            .where(staged_imports.c.id == self.import_id)
            .values(written=position)
        )


def _next(journal: Row | None) -> int | None:
    if journal is None or journal.written >= journal.total:
        return None
    written: int = journal.written
    return written


def open_journal(registry: Registry, journal_id: str, total: int) -> None:
    """The journal of a long write whose records wait elsewhere (a payer upload's, in its row), at
    position 0; left as it is when it exists."""
    with registry.begin() as conn:
        exists = select(staged_imports.c.id).where(staged_imports.c.id == journal_id)
        if conn.execute(exists).first() is None:
            conn.execute(
                staged_imports.insert().values(
                    id=journal_id,
                    kind="upload",
                    state="applying",
                    merge=False,
                    author="",
                    total=total,
                    written=0,
                    touched_at=now_utc(),
                )
            )


def journal_position(conn: Connection, journal_id: str) -> int | None:
    """How many records the long write has written, while it has a journal."""
    found = select(staged_imports.c.written).where(staged_imports.c.id == journal_id)
    written: int | None = conn.execute(found).scalar()
    return written


def close_journal(conn: Connection, journal_id: str) -> None:
    """The long write is over: its journal goes (its staged records went chunk by chunk)."""
    conn.execute(delete(staged_imports).where(staged_imports.c.id == journal_id))


@dataclass(frozen=True, slots=True)
class UnfinishedImport:
    import_id: str
    merge: bool
    author: str
    total: int
    written: int


def unfinished_imports(registry: Registry) -> list[UnfinishedImport]:
    """The imports past their commit point that are not completed yet; and the staging ones nobody
    touched for ``ABANDONED_AFTER`` (their process died) are dropped on the way."""
    abandoned = select(staged_imports.c.id).where(
        staged_imports.c.kind == "import",
        staged_imports.c.state == "staging",
        staged_imports.c.touched_at < now_utc() - ABANDONED_AFTER,
    )
    with registry.connect() as conn:
        dropped: list[str] = list(conn.execute(abandoned).scalars())
    for import_id in dropped:
        drop_import(registry, import_id)
    with registry.connect() as conn:
        rows = conn.execute(
            select(
                staged_imports.c.id.label("import_id"),
                staged_imports.c.merge,
                staged_imports.c.author,
                staged_imports.c.total,
                staged_imports.c.written,
            )
            .where(staged_imports.c.kind == "import", staged_imports.c.state == "applying")
            .order_by(staged_imports.c.touched_at)
        ).all()
    return [UnfinishedImport(**row._mapping) for row in rows]


def drop_import(registry: Registry, import_id: str) -> None:
    """Remove a staged import and its records, ``STAGE_EVERY`` records a transaction."""
    while True:
        with registry.begin() as conn:
            first = conn.execute(
                select(staged_records.c.position)
                .where(staged_records.c.import_id == import_id)
                .order_by(staged_records.c.position)
                .offset(STAGE_EVERY)
                .limit(1)
            ).scalar()
            gone = staged_records.c.import_id == import_id
            if first is None:
                conn.execute(delete(staged_records).where(gone))
                conn.execute(delete(staged_imports).where(staged_imports.c.id == import_id))
                return
            conn.execute(delete(staged_records).where(gone, staged_records.c.position < first))
