"""The terminal's folders: request files in ``req/``, results in ``res/``, face results in ``face/``
(by default ``res/``), answered requests moved to an archive.

- A request is read once complete: when it parses as XML, or when its size has stayed the same for
  ``settle`` seconds (a malformed file then gets its abnormal-end result).
- It is answered exactly once, across restarts too: its name and digest go to a journal before it
  moves to the archive; a request found again after a crash in between is archived, not answered.
- Results appear atomically (written under a hidden name, then renamed).
- Changes are noticed through the file system's notifications (watchdog) or, on shares where those do
  not work (SMB), by polling every ``poll`` seconds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from app.service.batches import resume_unfinished
from app.service.jobs import InProcessRunner
from app.service.sessions import VisitCursor
from app.service.visits import visits_after
from app.terminal.answers import Result, Terminal
from app.terminal.xmlcodec import MAX_BYTES
from payer_registry.db import RegistryUnavailable

log = logging.getLogger(__name__)
JOURNAL = "answered.log"
FACE_CURSOR = "face-cursor.json"
IDLE_WAKE = 0.5  # seconds between looks for new card visits (and pending files) when idle


@dataclass(frozen=True)
class Folders:
    requests: Path
    results: Path
    face: Path
    archive: Path
    state: Path

    def create(self) -> None:
        for folder in (self.requests, self.results, self.face, self.archive, self.state):
            folder.mkdir(parents=True, exist_ok=True)


@dataclass
class _Seen:
    size: int
    mtime: float
    since: float


@dataclass
class FolderTerminal:
    """Runs a ``Terminal`` over the folders until stopped."""

    terminal: Terminal
    folders: Folders
    poll: float | None = None  # seconds between listings; None: file-system notifications
    settle: float = 1.0
    report: Callable[[str], None] = log.info
    _seen: dict[str, _Seen] = field(default_factory=dict)
    _answered: set[tuple[str, str]] = field(default_factory=set)
    _wake: threading.Event = field(default_factory=threading.Event)
    _stopping: threading.Event = field(default_factory=threading.Event)

    def stop(self) -> None:
        """Finish the current file and return from ``run`` (safe from a signal handler)."""
        self._stopping.set()
        self._wake.set()

    def run(self) -> None:
        """Answer and write results until ``stop`` (after ``start``)."""
        observer = None if self.poll else self._observe()
        try:
            while not self._stopping.is_set():
                self.scan()
                self.face_results()
                self._wake.wait(self.poll or (IDLE_WAKE if not self._seen else self.settle / 4))
                self._wake.clear()
        finally:
            if observer is not None:
                observer.stop()
                observer.join()

    def start(self) -> None:
        """Create the folders, read the journal, pick up unfinished bulk pre-checks."""
        self.folders.create()
        journal = self.folders.state / JOURNAL
        if journal.exists():
            for line in journal.read_text(encoding="utf-8").splitlines():
                name, _, digest = line.partition("\t")
                self._answered.add((name, digest))
        if isinstance(self.terminal.ctx.jobs, InProcessRunner):
            resume_unfinished(self.terminal.ctx, self.terminal.code)
        if not (self.folders.state / FACE_CURSOR).exists():
            self._save_cursor(self._newest_visit())

    def _observe(self) -> BaseObserver:
        observer = Observer()
        observer.schedule(_Wake(self._wake), str(self.folders.requests), recursive=False)
        observer.start()
        return observer

    # -- requests ------------------------------------------------------------------------------

    def scan(self) -> int:
        """Answer every complete request in the folder; how many were answered."""
        answered = 0
        names = sorted(
            entry.name for entry in os.scandir(self.folders.requests) if _is_request(entry)
        )
        self._seen = {name: seen for name, seen in self._seen.items() if name in names}
        for name in names:
            try:
                answered += self._consider(name)
            except FileNotFoundError:  # a client took it back
                continue
            except RegistryUnavailable as error:
                self.report(f"{name} waits: {error}")
                break
        return answered

    def _consider(self, name: str) -> int:
        path = self.folders.requests / name
        status = path.stat()
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)  # more is refused as too large
        digest = hashlib.sha256(data).hexdigest()
        if (name, digest) in self._answered:
            self._archive(name)
            self.report(f"{name} was answered before (the journal says so): archived, not again")
            return 0
        if len(data) <= MAX_BYTES and not (_looks_complete(data) or self._settled(name, status)):
            return 0
        return self._answer(name, data, digest)

    def _settled(self, name: str, status: os.stat_result) -> bool:
        now = time.monotonic()
        seen = self._seen.get(name)
        if seen is None or (seen.size, seen.mtime) != (status.st_size, status.st_mtime):
            self._seen[name] = _Seen(status.st_size, status.st_mtime, now)
            return False
        return now - seen.since >= self.settle

    def _answer(self, name: str, data: bytes, digest: str) -> int:
        started = time.perf_counter()
        result = self.terminal.answer(name, data)
        write_atomically(self.folders.results / result.name, result.data)
        with (self.folders.state / JOURNAL).open("a", encoding="utf-8") as journal:
            journal.write(f"{name}\t{digest}\n")
            journal.flush()
            os.fsync(journal.fileno())
        self._archive(name)
        self._seen.pop(name, None)
        elapsed = (time.perf_counter() - started) * 1000
        self.report(f"answered {name} -> {result.name} ({elapsed:.0f} ms)")
        return 1

    def _archive(self, name: str) -> None:
        """Move the answered request out of the folder: linked into the archive, then unlinked, since
        a rename out of a watched folder holds back the next notification (watchdog waits half a
        second to pair it); a plain move where links are not possible."""
        source, target = self.folders.requests / name, self.folders.archive / name
        if target.exists():
            target = self.folders.archive / f"{time.time_ns()}_{name}"
        try:
            os.link(source, target)
        except OSError:
            shutil.move(source, target)
            return
        source.unlink()

    # -- card visits ---------------------------------------------------------------------------

    def face_results(self) -> int:
        """A face result for every card visit at this institution since the last one written."""
        cursor = self._load_cursor()
        visits = visits_after(self.terminal.ctx, self.terminal.code, cursor)
        for visit in visits:
            result: Result = self.terminal.face_result(visit)
            write_atomically(self.folders.face / result.name, result.data)
            self._save_cursor((visit.confirmed_at, visit.id))
            self.report(f"card visit {visit.id} -> {result.name}")
        return len(visits)

    def _newest_visit(self) -> VisitCursor | None:
        newest: VisitCursor | None = None
        while visits := visits_after(self.terminal.ctx, self.terminal.code, newest, 1000):
            newest = (visits[-1].confirmed_at, visits[-1].id)
        return newest

    def _load_cursor(self) -> VisitCursor | None:
        saved = json.loads((self.folders.state / FACE_CURSOR).read_text(encoding="utf-8"))
        if not saved:
            return None
        return dt.datetime.fromisoformat(saved["confirmed_at"]), saved["id"]

    def _save_cursor(self, cursor: VisitCursor | None) -> None:
        saved = None if cursor is None else {"confirmed_at": cursor[0].isoformat(), "id": cursor[1]}
        write_atomically(self.folders.state / FACE_CURSOR, json.dumps(saved).encode("utf-8"))


class _Wake(FileSystemEventHandler):
    """Wakes the terminal on any change in the request folder."""

    def __init__(self, wake: threading.Event) -> None:
        self.wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        self.wake.set()


def _is_request(entry: os.DirEntry[str]) -> bool:
    name = entry.name
    return entry.is_file() and name.lower().endswith(".xml") and not name.startswith((".", "~"))


def _looks_complete(data: bytes) -> bool:
    """A whole request document, so no writer is still appending to it (the end tag is ASCII in
    both encodings)."""
    return data.rstrip().endswith(b"</XmlMsg>")


def write_atomically(path: Path, data: bytes) -> None:
    """Write under a hidden temporary name in the same folder, then rename: readers see all or
    nothing."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
