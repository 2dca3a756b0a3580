"""The append-only audit log: every check, consent, view and refusal, in one keyed, anchored chain.

Each entry's digest is an HMAC-SHA256, under a key the database does not hold, over its content and
the previous entry's digest: whoever can write the database but cannot read the key can neither edit
an entry nor recompute the chain after it. Checkpoints (the newest committed entry's sequence number
and digest, signed) are appended to a file outside the database every ``CHECKPOINT_EVERY_ENTRIES``
entries or ``CHECKPOINT_EVERY_SECONDS`` seconds, so that removing the newest entries, rewinding
``audit_head`` or emptying and restarting the log no longer leaves a chain that verifies.
``verify_chain`` names the first break. Entries written before the key existed (revision 0008)
carry no key id and keep their plain SHA-256 digests.

Use cases that write nothing else (checks by numbers, looks at visits, records and portal pages)
hand their entries to the process's ``GroupCommit`` (グループコミット): one thread appends the
entries of many concurrent requests in one transaction and wakes each request once its entry is
committed. Every entry carries the id of the HTTP request that caused it (``REQUEST_ID``), so that
a client can tell whether a request whose answer it never got was audited."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import math
import os
import queue
import re
import secrets
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    String,
    bindparam,
    func,
    select,
    type_coerce,
    update,
)

from app.service.accounts import operator_name
from app.service.models import AuditEntry, AuditHead
from app.settings import AUDIT_KEY_BYTES, Settings, SettingsError, load_settings
from card_reader.verify import ResultCode
from payer_registry.clock import as_utc, now_utc
from payer_registry.db import RegistryUnavailable
from payer_registry.eligibility import Validity
from payer_registry.models import table_of
from payer_registry.prepared import PreparedStatement

log = logging.getLogger(__name__)
audit_log = table_of(AuditEntry)
audit_head = table_of(AuditHead)
CONTENT = (
    "seq",
    "at",
    "actor",
    "institution_code",
    "staff_id",
    "person_id",
    "action",
    "category",
    "visit_id",
    "consent_id",
    "outcome",
)
GENESIS = "0" * 64  # the "previous digest" of the first entry, and audit_head's before any
CHECKPOINT_EVERY_ENTRIES = 1_000
CHECKPOINT_EVERY_SECONDS = 60.0
# The id of the request being answered (set by the web layer); every entry appended meanwhile
# carries it, and its digest covers it.
REQUEST_ID: ContextVar[str | None] = ContextVar("audit_request_id", default=None)
# what a request id may be: 1 to 64 letters, digits, ".", "_", ":", "-", a letter or digit first
REQUEST_ID_FORMAT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


class Actor(StrEnum):
    INSTITUTION = "institution"
    PATIENT = "patient"
    PAYER = "payer"
    OPERATOR = "operator"


class Action(StrEnum):
    CARD_VERIFICATION = "card_verification"
    CONSENT = "consent"
    ELIGIBILITY_CHECK = "eligibility_check"
    BATCH_CHECK = "batch_check"
    VIEW = "view"
    VISIT_VIEW = "visit_view"
    PAYER_RECORDS = "payer_records"
    PAYER_UPLOAD = "payer_upload"
    QUALIFICATION_LOSS = "qualification_loss"
    REGISTRY_IMPORT = "registry_import"
    CARD_LINK = "card_link"
    PORTAL_SIGN_IN = "portal_sign_in"
    PORTAL_VIEW = "portal_view"
    DISASTER_SEARCH = "disaster_search"  # 災害時: a search without a card
    DISASTER_VIEW = "disaster_view"  # 災害時: a look without a consent
    DISASTER_PERIOD = "disaster_period"  # 災害時: a period declared or ended by an operator
    PRESCRIPTION = "prescription"
    PRESCRIPTION_CHECK = "prescription_check"


class Outcome(StrEnum):
    """Outcomes other than an eligibility result (``Validity``) or a card refusal (``ResultCode``)."""

    GIVEN = "given"
    DECLINED = "declined"
    SHOWN = "shown"
    REFUSED_EXPIRED = "refused_expired"
    REFUSED_NONE = "refused_none"
    CARD_NOT_LINKED = "CARD_NOT_LINKED"
    CHALLENGE_INVALID = "CHALLENGE_INVALID"
    CONSENT_NOT_OFFERED = "CONSENT_NOT_OFFERED"
    NOT_FOUND = "NOT_FOUND"
    FAILED = "failed"
    WRITTEN = "written"
    DECLARED = "declared"
    ENDED = "ended"
    LINKED = "linked"
    RENEWED = "renewed"
    REVOKED = "revoked"
    SIGNED_IN = "signed_in"
    DISASTER_ACCESS_FORBIDDEN = "DISASTER_ACCESS_FORBIDDEN"
    DISASTER_SEARCH_INCOMPLETE = "DISASTER_SEARCH_INCOMPLETE"
    DISASTER_SEARCH_TOO_BROAD = "DISASTER_SEARCH_TOO_BROAD"
    DUPLICATE = "duplicate"
    SAME_CLASS = "same_class"
    NO_DUPLICATE = "no_duplicate"


AnyOutcome = Outcome | Validity | ResultCode


# --- keys ---------------------------------------------------------------------------------------


def key_id(key: bytes) -> str:
    """A key's public name, stored on every entry it signs: it tells nothing about the key."""
    return hmac.new(key, b"eligsim audit key id", hashlib.sha256).hexdigest()[:16]


class KeyRing:
    """The audit keys: the newest signs, every one verifies the entries it signed."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        """``keys``: oldest first."""
        self._by_id = {key_id(key): hmac.new(key, digestmod=hashlib.sha256) for key in keys}
        self.current_id = key_id(keys[-1])

    def knows(self, name: str) -> bool:
        return name in self._by_id

    def mac(self, name: str, message: bytes) -> str:
        """The HMAC of ``message`` under the key ``name`` (copying a keyed state is the cheap way)."""
        state = self._by_id[name].copy()
        state.update(message)
        return state.hexdigest()

    def prototype(self, name: str) -> hmac.HMAC:
        """The keyed HMAC state of key ``name``, for ``verify_chain``'s inner loop to copy."""
        return self._by_id[name]


class AuditFileError(SettingsError):
    """The audit key file or checkpoint file cannot be used; the message says which and why."""


@contextmanager
def _file_errors(what: str, path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as error:
        raise AuditFileError(f"cannot {what} {path}: {error.strerror or error}") from None


def load_keys(settings: Settings) -> KeyRing:
    """The keys of ``ELIGSIM_AUDIT_KEY`` when set, else those of the key file (created with one new
    key on first use, readable by its owner only)."""
    if settings.audit_keys:
        return KeyRing(list(reversed(settings.audit_keys)))
    path = settings.audit_key_file
    with _file_errors("use the audit key file", path):
        if not path.exists():
            _create_key_file(path)
        return KeyRing(_read_key_file(path))


def rotate_key(settings: Settings) -> str:
    """Append a new key to the key file; it signs from the next start on, the old ones still verify.
    Returns the new key's id."""
    if settings.audit_keys:
        raise SettingsError(
            "the audit key comes from ELIGSIM_AUDIT_KEY: put a new key first in it and keep the "
            "old ones after it, separated by commas"
        )
    load_keys(settings)  # creates the file when there is none yet, and checks it
    key = secrets.token_bytes(AUDIT_KEY_BYTES)
    with _file_errors("add a key to", settings.audit_key_file):
        _append_line(settings.audit_key_file, key.hex())
    return key_id(key)


def _append_line(path: Path, line: str) -> None:
    """One write with O_APPEND, flushed to disk: lines of several processes never interleave."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{line}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_key_file(path: Path) -> None:
    """Written whole under a temporary name and linked into place, so that two processes starting
    together agree on one key and neither reads a half-written file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, f"{secrets.token_bytes(AUDIT_KEY_BYTES).hex()}\n".encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(draft, path)
    except FileExistsError:
        pass  # another process made it first: use theirs
    finally:
        draft.unlink()


def _read_key_file(path: Path) -> list[bytes]:
    if path.stat().st_mode & 0o077:
        raise AuditFileError(f"audit key file {path} is open to others: chmod 600 it")
    try:
        keys = [bytes.fromhex(line) for line in path.read_text("ascii").split()]
    except ValueError:
        raise AuditFileError(f"audit key file {path} holds something other than hex keys") from None
    if not keys or any(len(key) < AUDIT_KEY_BYTES for key in keys):
        raise AuditFileError(f"audit key file {path}: each line must be a key of 32 bytes or more")
    return keys


# --- digests ------------------------------------------------------------------------------------


def entry_digest(entry: Mapping[str, Any], previous_digest: str, keys: KeyRing) -> str:
    """The digest of ``entry`` (its ``CONTENT``, ``key_id`` and ``request_id`` when it has one)
    following ``previous_digest``."""
    values = [entry[name] for name in CONTENT]
    values[1] = _at_text(values[1])
    name = entry["key_id"]
    if name is None:
        return _plain_digest(values, previous_digest)
    return keys.mac(name, _keyed_message(values, name, previous_digest, entry.get("request_id")))


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _keyed_message(
    values: list[Any], name: str, previous_digest: str, request_id: str | None
) -> bytes:
    """The previous digest, then the content, the key id and the request id (entries without one,
    those from before revision 0009 among them, end at the key id) as one JSON array: unambiguous,
    and cheaper to build than the sorted object of the plain scheme."""
    values.append(name)
    if request_id is not None:
        values.append(request_id)
    return (previous_digest + _encode(values)).encode()


def _plain_digest(values: Sequence[Any], previous_digest: str) -> str:
    """The scheme before revision 0008: SHA-256 of the previous digest and the sorted content."""
    content = json.dumps(
        dict(zip(CONTENT, values, strict=True)), sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256((previous_digest + content).encode()).hexdigest()


def _at_text(value: dt.datetime | str) -> str:
    """An entry's time as the digest covers it. SQLite hands the column back as the text SQLAlchemy
    stored ("2025-04-01 09:00:00.000000", UTC); reading it raw saves ``verify_chain`` most of its
    time per entry."""
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " ":
            return f"{value[:10]}T{value[11:]}+00:00"
        value = dt.datetime.fromisoformat(value)
    return as_utc(value).astimezone(dt.UTC).isoformat(timespec="microseconds")


# --- checkpoints --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The chain's newest committed entry as it was at ``at``, signed with the audit key."""

    seq: int
    digest: str
    at: str
    key_id: str
    mac: str

    @staticmethod
    def message(seq: int, digest: str, at: str) -> bytes:
        return f"checkpoint\n{seq}\n{digest}\n{at}".encode()

    def signed_by(self, keys: KeyRing) -> bool:
        """Under a key of ``keys``, which must know ``key_id``."""
        expected = keys.mac(self.key_id, self.message(self.seq, self.digest, self.at))
        return hmac.compare_digest(expected, self.mac)


class BadCheckpoint(Exception):
    """A line of the checkpoint file that is not a checkpoint signed by a key of the ring."""

    def __init__(self, line: int, unknown_key: str | None = None) -> None:
        super().__init__(line)
        self.line, self.unknown_key = line, unknown_key


def read_checkpoints(path: Path, keys: KeyRing) -> list[Checkpoint]:
    """Every checkpoint in the file (none when there is no file); ``BadCheckpoint`` names the first
    line that is not a checkpoint signed by one of the keys."""
    if not path.exists():
        return []
    with _file_errors("read the checkpoint file", path):
        lines = path.read_bytes().splitlines()
    found = []
    for number, line in enumerate(lines, 1):
        try:
            checkpoint = Checkpoint(**json.loads(line))
        except (ValueError, TypeError):
            raise BadCheckpoint(number) from None
        if not keys.knows(checkpoint.key_id):
            raise BadCheckpoint(number, checkpoint.key_id)
        if not (isinstance(checkpoint.seq, int) and checkpoint.signed_by(keys)):
            raise BadCheckpoint(number)
        found.append(checkpoint)
    return found


def _append_checkpoint(path: Path, keys: KeyRing, seq: int, digest: str) -> Checkpoint:
    at = now_utc().isoformat(timespec="microseconds")
    mac = keys.mac(keys.current_id, Checkpoint.message(seq, digest, at))
    checkpoint = Checkpoint(seq, digest, at, keys.current_id, mac)
    _append_line(path, json.dumps(asdict(checkpoint)))
    return checkpoint


# --- the trail: keys and checkpoints of one database --------------------------------------------


@dataclass
class AuditTrail:
    """What appending to and verifying one database's log needs beyond the database."""

    keys: KeyRing
    checkpoints: Path
    _last_seq: int = field(default=0, repr=False)
    _last_time: float = field(default=-math.inf, repr=False)  # none yet: the first is due
    _checkpointed: tuple[int, str] | None = field(default=None, repr=False)

    @classmethod
    def for_settings(cls, settings: Settings) -> AuditTrail:
        return cls(load_keys(settings), settings.audit_checkpoints)

    def checkpoint(self, engine: Engine) -> Checkpoint:
        """Checkpoint the newest committed entry."""
        seq, digest = _committed_head(engine)
        with _file_errors("write a checkpoint to", self.checkpoints):
            return _append_checkpoint(self.checkpoints, self.keys, seq, digest)

    def checkpoint_if_due(self, engine: Engine, seq: int) -> None:
        """After ``seq`` was appended: a checkpoint when this process wrote none for
        ``CHECKPOINT_EVERY_ENTRIES`` entries or ``CHECKPOINT_EVERY_SECONDS`` seconds (the first
        append of a process always writes one). A file that cannot be written is logged, not
        raised: the entry itself is safe in the database, and ``verify`` will tell."""
        now = time.monotonic()
        if seq - self._last_seq < CHECKPOINT_EVERY_ENTRIES and now - self._last_time < (
            CHECKPOINT_EVERY_SECONDS
        ):
            return
        self._last_seq, self._last_time = seq, now
        committed = _committed_head(engine)
        if committed == self._checkpointed:
            return  # a long transaction (an import) appends far beyond what is committed
        try:
            with _file_errors("write a checkpoint to", self.checkpoints):
                _append_checkpoint(self.checkpoints, self.keys, *committed)
        except AuditFileError as error:
            log.error("audit checkpoint not written: %s", error)
        else:
            self._checkpointed = committed


def _committed_head(engine: Engine) -> tuple[int, str]:
    """The newest committed entry's number and digest, read on a connection of its own: the
    caller's transaction may hold entries that a rollback would still take back."""
    with engine.connect() as conn:
        head = conn.execute(select(audit_head.c.seq, audit_head.c.digest)).one()
    return head.seq, head.digest


_TRAILS: weakref.WeakKeyDictionary[Engine, AuditTrail] = weakref.WeakKeyDictionary()


def use_trail(engine: Engine, settings: Settings) -> AuditTrail:
    """Sign and checkpoint ``engine``'s log with the keys and file ``settings`` name."""
    trail = _TRAILS[engine] = AuditTrail.for_settings(settings)
    return trail


def trail_of(engine: Engine) -> AuditTrail:
    """The trail set for ``engine``; without one (a worker or command that opened the database
    itself), the one the process environment's settings name."""
    trail = _TRAILS.get(engine)
    return trail if trail is not None else use_trail(engine, load_settings())


# --- appending ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """What one entry records; the log adds its number, time, key id and digest. The request id is
    that of the request being answered when the entry is made."""

    actor: Actor
    action: Action
    outcome: AnyOutcome
    institution_code: str | None = None
    staff_id: str | None = None
    person_id: int | None = None
    category: str | None = None
    visit_id: str | None = None
    consent_id: int | None = None
    request_id: str | None = field(default_factory=REQUEST_ID.get)

    def row(self, seq: int, at: dt.datetime, key: str) -> dict[str, Any]:
        return {
            **{name: getattr(self, name) for name in _ENTRY_FIELDS},
            "seq": seq,
            "at": at,
            "actor": str(self.actor),
            "action": str(self.action),
            "outcome": str(self.outcome),
            "key_id": key,
        }


_ENTRY_FIELDS = tuple(Entry.__dataclass_fields__)
# the three statements of every append (a group's or a use case's), run on the driver's cursor
_BUMP_HEAD = PreparedStatement(
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(seq=audit_head.c.seq + bindparam("count", type_=Integer))
    .returning(audit_head.c.seq, audit_head.c.digest)
)
_INSERT = PreparedStatement(
    audit_log.insert().values({column.name: bindparam(column.name) for column in audit_log.c})
)
_SET_HEAD_DIGEST = PreparedStatement(
    update(audit_head).where(audit_head.c.id == 1).values(digest=bindparam("new_digest"))
)


def append(
    conn: Connection,
    *,
    actor: Actor,
    action: Action,
    outcome: AnyOutcome,
    institution_code: str | None = None,
    staff_id: str | None = None,
    person_id: int | None = None,
    category: str | None = None,
    visit_id: str | None = None,
    consent_id: int | None = None,
) -> int:
    """Append one entry inside the caller's transaction, signed with the current audit key; returns
    its sequence number. For use cases that write more than the entry: it commits with them."""
    fields = (institution_code, staff_id, person_id, category, visit_id, consent_id)
    return append_all(conn, [Entry(actor, action, outcome, *fields)])[-1]


def append_by_operator(
    conn: Connection,
    action: Action,
    outcome: AnyOutcome,
    person_id: int | None = None,
    category: str | None = None,
) -> int:
    """Append an entry for a command the operator runs on this machine, naming them by their login
    name."""
    return append(
        conn,
        actor=Actor.OPERATOR,
        action=action,
        outcome=outcome,
        staff_id=operator_name(),
        person_id=person_id,
        category=category,
    )


def append_all(conn: Connection, entries: Sequence[Entry]) -> range:
    """Append ``entries`` in order inside the caller's transaction, with one update of the head and
    one insert for them all (a chunk of a long write); their sequence numbers."""
    if not entries:
        return range(0)
    trail = trail_of(conn.engine)
    numbers = _write(conn, trail, entries)
    trail.checkpoint_if_due(conn.engine, numbers[-1])
    return numbers


def append_committed(engine: Engine, entry: Entry) -> int:
    """Append ``entry`` through this process's group commit; returns its sequence number once it is
    committed. For use cases that write nothing else: many requests share one transaction."""
    with _GROUPS_LOCK:
        group = _GROUPS.get(engine)
        if group is None:
            group = _GROUPS[engine] = GroupCommit(trail_of(engine))
    return group.append(engine, entry)


def _write(conn: Connection, trail: AuditTrail, entries: Sequence[Entry]) -> range:
    """Append ``entries`` in order inside ``conn``'s transaction; their sequence numbers. Bumping the
    head first takes its row's write lock (on SQLite the database's), so concurrent writers, in
    this process or another, queue instead of forking the chain."""
    [(last, previous)] = _BUMP_HEAD.rows(conn, {"count": len(entries)})
    numbers = range(last - len(entries) + 1, last + 1)
    at, key = now_utc(), trail.keys.current_id
    rows = []
    for seq, entry in zip(numbers, entries, strict=True):
        row = entry.row(seq, at, key)
        row["previous_digest"], row["digest"] = previous, entry_digest(row, previous, trail.keys)
        previous = row["digest"]
        rows.append(row)
    _INSERT.run(conn, rows)
    _SET_HEAD_DIGEST.run(conn, {"new_digest": previous})
    return numbers


GROUP_AT_MOST = 500  # entries in one transaction
GROUP_IDLE_SECONDS = 5.0  # an idle writer thread ends after this long; the next entry starts one
COMMIT_WAIT_SECONDS = 30.0  # a request waits at most this long for its entry, then answers 503


class _Pending:
    """An entry handed to the writer, and what became of it: ``done`` is held until it settles (a
    bare lock is the cheapest thing one thread can wait on and another release)."""

    __slots__ = ("done", "entry", "error", "seq")

    def __init__(self, entry: Entry) -> None:
        self.entry, self.done = entry, threading.Lock()
        self.done.acquire()
        self.seq, self.error = 0, ""

    def settle(self, seq: int = 0, error: str = "") -> None:
        self.seq, self.error = seq, error
        self.done.release()


class GroupCommit:
    """Group commit (グループコミット) of one process: requests queue their entries, one writer
    thread appends all that are queued (``GROUP_AT_MOST`` at a time) in one transaction, commits,
    and wakes each request, which answers only then. A failed transaction fails only its requests
    (they answer 503, nothing of theirs was committed); the writer goes on with the next."""

    def __init__(self, trail: AuditTrail) -> None:
        self._trail = trail
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._writer_lock = threading.Lock()
        self._writer: threading.Thread | None = None

    def append(self, engine: Engine, entry: Entry) -> int:
        pending = _Pending(entry)
        self._queue.put(pending)
        with self._writer_lock:
            if self._writer is None or not self._writer.is_alive():  # none yet, idle, or forked
                self._writer = threading.Thread(
                    target=self._run, args=(engine,), name="audit-group-commit", daemon=True
                )
                self._writer.start()
        if not pending.done.acquire(timeout=COMMIT_WAIT_SECONDS):
            raise RegistryUnavailable("the audit log did not commit the entry in time")
        if pending.error:
            raise RegistryUnavailable(f"the audit entry was not committed: {pending.error}")
        return pending.seq

    def _run(self, engine: Engine) -> None:
        while batch := self._next_batch():
            self._commit(engine, batch)

    def _next_batch(self) -> list[_Pending]:
        """The queued entries (the oldest ``GROUP_AT_MOST``); none when idle for long: the thread
        then ends, holding no engine alive (an entry queued meanwhile starts the next one)."""
        while True:
            try:
                batch = [self._queue.get(timeout=GROUP_IDLE_SECONDS)]
                break
            except queue.Empty:
                with self._writer_lock:
                    if self._queue.empty():
                        self._writer = None
                        return []
        with suppress(queue.Empty):
            while len(batch) < GROUP_AT_MOST:
                batch.append(self._queue.get_nowait())
        return batch

    def _commit(self, engine: Engine, batch: list[_Pending]) -> None:
        try:
            with engine.begin() as conn:
                numbers = _write(conn, self._trail, [pending.entry for pending in batch])
        except Exception as error:  # every waiting request must hear of it; the writer lives on
            log.exception("%d audit entries not committed", len(batch))
            for pending in batch:
                pending.settle(error=type(error).__name__)
            return
        try:  # before the requests hear back, so a verify after an answer finds the checkpoint due
            self._trail.checkpoint_if_due(engine, numbers[-1])
        except Exception:  # the entries are committed; the next checkpoint covers them
            log.exception("audit checkpoint not written")
        for pending, seq in zip(batch, numbers, strict=True):
            pending.settle(seq)


_GROUPS: weakref.WeakKeyDictionary[Engine, GroupCommit] = weakref.WeakKeyDictionary()
_GROUPS_LOCK = threading.Lock()


def entries_of_request(
    conn: Connection, request_id: str, institution_code: str
) -> list[dict[str, Any]]:
    """The institution's entries that the request ``request_id`` caused, oldest first: whether a
    request whose answer never arrived was audited (and so answered). An id the service would
    not have taken (``REQUEST_ID_FORMAT``) has none."""
    if not REQUEST_ID_FORMAT.fullmatch(request_id):
        return []
    stmt = (
        select(audit_log.c.seq, audit_log.c.at, audit_log.c.action, audit_log.c.outcome)
        .where(
            audit_log.c.request_id == request_id,
            audit_log.c.institution_code == institution_code,
        )
        .order_by(audit_log.c.seq)
    )
    return [{**row._asdict(), "at": as_utc(row.at)} for row in conn.execute(stmt)]


# --- verifying ----------------------------------------------------------------------------------


class Problem(StrEnum):
    """What ``verify_chain`` found, each a different way of tampering with the log."""

    EDITED = "edited"
    MISSING = "missing"
    UNKNOWN_KEY = "unknown_key"
    TRUNCATED = "truncated"
    HEAD_REWOUND = "head_rewound"
    RESTARTED = "restarted"
    CHECKPOINT_FORGED = "checkpoint_forged"
    NO_CHECKPOINTS = "no_checkpoints"


@dataclass(frozen=True, slots=True)
class ChainReport:
    entries: int
    first_broken: int | None = None
    reason: str | None = None
    problem: Problem | None = None
    checkpoint: Checkpoint | None = None  # the newest one the log was checked against

    @property
    def intact(self) -> bool:
        return self.problem is None


class _Broken(Exception):
    def __init__(self, problem: Problem, first_broken: int | None, reason: str) -> None:
        super().__init__(reason)
        self.problem, self.first_broken, self.reason = problem, first_broken, reason


@dataclass(slots=True)
class _End:
    """Where the walk through the log stopped: entries read, the newest entry, keyed ones seen."""

    entries: int = 0
    seq: int = 0
    digest: str = GENESIS
    at: str = ""
    keyed: bool = False


def verify_chain(
    conn: Connection, trail: AuditTrail | None = None, chunk: int = 10_000
) -> ChainReport:
    """Recompute every digest in order, under the keys, and hold the log against ``audit_head``
    and every checkpoint; report the first break found."""
    trail = trail or trail_of(conn.engine)
    end = _End()
    try:
        checkpoints = _checkpoints(trail)
        _walk(conn, trail.keys, {c.seq: c for c in checkpoints}, chunk, end)
        _check_head(conn, end)
        _check_anchored(checkpoints, end, trail.checkpoints)
    except _Broken as broken:
        return ChainReport(end.entries, broken.first_broken, broken.reason, broken.problem)
    newest = max(checkpoints, key=lambda c: c.seq, default=None)
    return ChainReport(end.entries, checkpoint=newest)


def _checkpoints(trail: AuditTrail) -> list[Checkpoint]:
    try:
        return read_checkpoints(trail.checkpoints, trail.keys)
    except BadCheckpoint as bad:
        line = f"line {bad.line} of {trail.checkpoints}"
        if bad.unknown_key:
            raise _Broken(
                Problem.UNKNOWN_KEY, None, f"{line} {_unknown_key(bad.unknown_key)}"
            ) from None
        raise _Broken(
            Problem.CHECKPOINT_FORGED, None, f"{line} is not a checkpoint signed by an audit key"
        ) from None


def _unknown_key(name: str) -> str:
    return f"is signed with audit key {name}, which the key file does not hold"


_AS_STORED = "YYYY-MM-DD HH24:MI:SS.US"  # PostgreSQL's to_char for SQLite's text (see _at_text)
_AT_AS_TEXT = {
    "sqlite": type_coerce(audit_log.c.at, String),
    "postgresql": func.to_char(audit_log.c.at.op("AT TIME ZONE")("UTC"), _AS_STORED),
}
_OTHER_COLUMNS = [
    *(audit_log.c[name] for name in CONTENT[2:]),
    audit_log.c.key_id,
    audit_log.c.previous_digest,
    audit_log.c.digest,
    audit_log.c.request_id,
]
KEY_ID, PREVIOUS, DIGEST, REQUEST = (len(CONTENT) + offset for offset in range(4))
Rows = Sequence[Sequence[Any]]


def _walk(
    conn: Connection,
    keys: KeyRing,
    checkpointed: Mapping[int, Checkpoint],
    chunk: int,
    end: _End,
) -> None:
    """The hot loop (a million entries in seconds): no dict per row, no datetime parsing, locals
    only; ``end`` is brought up to date once per chunk, and on a break. Plain (unkeyed) entries may
    only come before every keyed one and every checkpoint: checkpoints are written by code that
    signs, so a plain entry after one was rewritten without the key."""
    previous, expected, keyed = GENESIS, 1, False
    plain_until = min(checkpointed, default=math.inf)
    signers: dict[str, hmac.HMAC] = {}
    keyed_message, at_text, checkpoint_at = _keyed_message, _at_text, checkpointed.get
    try:
        for rows in _chunks(conn, chunk):
            for row in rows:
                seq, name = row[0], row[KEY_ID]
                if seq != expected:
                    raise _Broken(Problem.MISSING, expected, _missing(expected, seq))
                values = [seq, at_text(row[1]), *row[2:KEY_ID]]
                if name is None:
                    if keyed or seq > plain_until:
                        raise _Broken(Problem.EDITED, seq, _REWRITTEN_PLAIN)
                    digest = _plain_digest(values, previous)
                else:
                    signer = signers.get(name) or signers.setdefault(name, _signer(keys, name, seq))
                    state = signer.copy()
                    state.update(keyed_message(values, name, previous, row[REQUEST]))
                    digest, keyed = state.hexdigest(), True
                if row[PREVIOUS] != previous or row[DIGEST] != digest:
                    raise _Broken(Problem.EDITED, seq, _EDITED)
                checkpoint = checkpoint_at(seq)
                if checkpoint is not None and checkpoint.digest != digest:
                    raise _Broken(Problem.RESTARTED, seq, _not_checkpointed(checkpoint))
                previous, expected = digest, seq + 1
            end.seq, end.digest, end.at, end.keyed = (
                expected - 1,
                previous,
                at_text(rows[-1][1]),
                keyed,
            )
    finally:
        end.entries = expected - 1


_EDITED = "its content or digest was changed (the digest does not match under the audit key)"
_REWRITTEN_PLAIN = (
    "it carries a plain digest where only keyed ones belong: it was rewritten without the key"
)


def _missing(expected: int, seq: int) -> str:
    if seq == expected + 1:
        return "it is missing"
    return f"entries {expected} to {seq - 1} are missing"


def _signer(keys: KeyRing, name: str, seq: int) -> hmac.HMAC:
    if not keys.knows(name):
        raise _Broken(
            Problem.UNKNOWN_KEY,
            seq,
            f"it {_unknown_key(name)}",
        )
    return keys.prototype(name)


def _not_checkpointed(checkpoint: Checkpoint) -> str:
    return (
        f"it is not the entry checkpointed at {checkpoint.at}: the log was emptied and restarted, "
        "or rewritten from there"
    )


def _chunks(conn: Connection, chunk: int) -> Iterator[Rows]:
    """The log in order, the time as text: parsing a million datetimes and formatting them again
    would take a third of the verification."""
    at = _AT_AS_TEXT.get(conn.dialect.name, audit_log.c.at)
    query = select(audit_log.c.seq, at, *_OTHER_COLUMNS).order_by(audit_log.c.seq).limit(chunk)
    last = 0
    while True:
        rows = conn.execute(query.where(audit_log.c.seq > last)).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _check_head(conn: Connection, end: _End) -> None:
    head = conn.execute(select(audit_head.c.seq, audit_head.c.digest)).one()
    if head.seq > end.seq:
        raise _Broken(
            Problem.TRUNCATED,
            end.seq + 1,
            f"the newest entries are missing (audit_head is at {head.seq}, the log ends at {end.seq})",
        )
    if (head.seq, head.digest) != (end.seq, end.digest):
        raise _Broken(
            Problem.HEAD_REWOUND,
            head.seq + 1,
            f"audit_head was rewound to {head.seq} while the log holds entries up to {end.seq}",
        )


def _check_anchored(checkpoints: Sequence[Checkpoint], end: _End, path: Path) -> None:
    """The log reaches at least as far as every checkpoint (whose digests ``_walk`` compared)."""
    if not checkpoints:
        if end.keyed:
            raise _Broken(
                Problem.NO_CHECKPOINTS,
                None,
                f"there is no checkpoint in {path} although the log holds keyed entries: the file "
                "was removed, or ELIGSIM_AUDIT_CHECKPOINTS names another file",
            )
        return
    newest = max(checkpoints, key=lambda c: c.seq)
    if newest.seq <= end.seq:
        return
    if end.entries and end.at > newest.at:
        raise _Broken(
            Problem.RESTARTED,
            1,
            f"the log ends at {end.seq}, before entry {newest.seq} checkpointed at {newest.at}, "
            "yet its newest entry is younger than that checkpoint: it was emptied and restarted",
        )
    raise _Broken(
        Problem.TRUNCATED,
        end.seq + 1,
        f"the log ends at {end.seq} but entry {newest.seq} was checkpointed at {newest.at}: "
        "the newest entries were removed and audit_head rewound",
    )


# --- the patient's view -------------------------------------------------------------------------


def access_log(conn: Connection, person_id: int) -> list[dict[str, Any]]:
    """What the patient sees (マイナポータル): which institution did what with which data, and when.
    Their own portal sign-ins and views are audited too, but are not shown here."""
    stmt = (
        select(
            audit_log.c.at,
            audit_log.c.institution_code,
            audit_log.c.action,
            audit_log.c.category,
            audit_log.c.outcome,
        )
        .where(audit_log.c.person_id == person_id, audit_log.c.actor == Actor.INSTITUTION)
        .order_by(audit_log.c.seq.desc())
    )
    return [{**row._asdict(), "at": as_utc(row.at)} for row in conn.execute(stmt)]
