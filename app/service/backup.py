"""Online backup and restore of everything eligsim keeps (``eligsim backup`` / ``eligsim restore``).

A backup is a directory (mode 0700, files 0600: it holds health data and private keys):

    manifest.json          every file's SHA-256, size and mode; the database kind, schema revision,
                           counts of persons, visits, consents and audit entries; the time
    database/registry.sqlite   SQLite: a copy made with SQLite's online backup API
    database/registry.pgdump   PostgreSQL: ``pg_dump`` (custom format) of the service's schema
    var/<part>/...         the var directory's state (``VAR_PARTS``)
    jpki/...               the simulated JPKI authority (its CA keys, serials, revocations)
    audit/key-file, audit/checkpoints.jsonl   the audit key and checkpoints, when settings put them
                           outside ``var/audit``

The service keeps serving while a backup runs: the database is copied from one snapshot, and the
counts in the manifest are read from that same snapshot. The audit directory (its key and
checkpoints) is copied *before* the database, so no checkpoint is newer than the audit log it
vouches for; card files and keys are copied *after* it, so every card the database links is there.

A restore checks every digest first, writes only into an empty target (never over live data), then
brings the schema to the newest revision and checks the audit chain and the counts again."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from io import BufferedWriter
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from psycopg.conninfo import make_conninfo
from sqlalchemy import Connection, create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from app.database import migrate
from app.service.audit import AuditTrail, verify_chain
from app.service.models import AuditEntry, Consent, Visit
from app.settings import Settings
from payer_registry.db import Registry
from payer_registry.models import Person, table_of

MANIFEST = "manifest.json"
FORMAT = 1
VAR_PARTS = ("audit", "cards", "demo", "scenarios", "face-reader", "station", "terminal")
SQLITE_FILE = "database/registry.sqlite"
PGDUMP_FILE = "database/registry.pgdump"
AUDIT_FILES = ("audit/key-file", "audit/checkpoints.jsonl")
PRIVATE_FILE, PRIVATE_DIR = 0o600, 0o700
COUNTED = {
    "persons": table_of(Person),
    "visits": table_of(Visit),
    "consents": table_of(Consent),
    "audit_entries": table_of(AuditEntry),
}
CHUNK = 1 << 20
PG_CLIENT_HINT = "install PostgreSQL's client programs (Debian: apt-get install postgresql-client)"


class BackupError(RuntimeError):
    """A backup or restore that cannot be done, or a backup that must not be trusted; the message
    says which and what to do."""


@dataclass(frozen=True)
class BackupFile:
    path: str  # relative to the backup directory, POSIX separators
    sha256: str
    size: int
    mode: str  # the original's permission bits in octal ("0600"), given back on restore


@dataclass(frozen=True)
class Manifest:
    created_at: str
    database: str  # "sqlite" or "postgresql"
    schema: str | None  # the PostgreSQL schema dumped
    schema_revision: str | None
    counts: dict[str, int]
    files: list[BackupFile]
    format: int = FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1) + "\n"

    @classmethod
    def from_json(cls, document: str) -> Manifest:
        data = json.loads(document)
        files = [BackupFile(**entry) for entry in data.pop("files")]
        return cls(**data, files=files)


@dataclass(frozen=True)
class DatabaseSnapshot:
    file: BackupFile
    schema: str | None
    revision: str | None
    counts: dict[str, int]


@dataclass(frozen=True)
class RestoreReport:
    manifest: Manifest
    audit_entries: int


# -- backup -----------------------------------------------------------------------------------


def back_up(settings: Settings, out: Path) -> Manifest:
    """Copy the database, the var directory's state and the JPKI authority into ``out`` (a new or
    empty directory), with a manifest of digests; returns the manifest written."""
    existed = out.exists()
    _make_private_dir(out)
    try:
        return _back_up_into(settings, out)
    except BaseException:
        _discard(out, existed)
        raise


def _back_up_into(settings: Settings, out: Path) -> Manifest:
    """The audit directory first, the database, then the other files (see the module's doc)."""
    audit = _copy_tree(settings.var_dir / "audit", out, "var/audit")
    audit += [
        _copy_file(path, out, name)
        for name, path in _audit_files_elsewhere(settings).items()
        if path.is_file()
    ]
    snapshot = _snapshot_database(settings.database_url, out)
    rest = [
        entry
        for part in VAR_PARTS[1:]
        for entry in _copy_tree(settings.var_dir / part, out, f"var/{part}")
    ]
    jpki = _copy_tree(settings.jpki_dir, out, "jpki")
    manifest = Manifest(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        database="sqlite" if snapshot.file.path == SQLITE_FILE else "postgresql",
        schema=snapshot.schema,
        schema_revision=snapshot.revision,
        counts=snapshot.counts,
        files=[snapshot.file, *audit, *rest, *jpki],
    )
    _write_private(out / MANIFEST, manifest.to_json().encode("utf-8"))
    return manifest


def _audit_files_elsewhere(settings: Settings) -> dict[str, Path]:
    """The audit key and checkpoint files that settings put outside ``var/audit``, by their name
    in the backup."""
    inside = (settings.var_dir / "audit").resolve()
    files = zip(AUDIT_FILES, (settings.audit_key_file, settings.audit_checkpoints), strict=True)
    return {name: path for name, path in files if not path.resolve().is_relative_to(inside)}


def manifest_digest(backup: Path) -> str:
    """The manifest's own SHA-256: noted apart from the backup, it shows the manifest was not
    replaced along with the files it vouches for."""
    return _file_digest(backup / MANIFEST)


def _discard(out: Path, existed: bool) -> None:
    """Leave no half-made backup behind (it would hold health data no manifest describes)."""
    shutil.rmtree(out, ignore_errors=True)
    if existed:
        _private_dirs(out)


def _make_private_dir(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} is not an empty directory: give a new one for the backup")
    _private_dirs(out)
    out.chmod(PRIVATE_DIR)


def _copy_tree(source: Path, out: Path, prefix: str) -> list[BackupFile]:
    """Copy every regular file under ``source`` to ``out/prefix``; files that vanish while the
    service works (a terminal's answered request, a replaced temporary file) are skipped."""
    copied = []
    for path in _regular_files(source):
        name = f"{prefix}/{path.relative_to(source).as_posix()}"
        try:
            copied.append(_copy_file(path, out, name))
        except FileNotFoundError:
            continue
    return copied


def _regular_files(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                yield path


def _copy_file(source: Path, out: Path, name: str) -> BackupFile:
    target = out / name
    _private_dirs(target.parent)
    digest, size = hashlib.sha256(), 0
    with source.open("rb") as reader:
        mode = os.fstat(reader.fileno()).st_mode & 0o777
        blocks = (
            _complete_lines(reader)
            if name.endswith(".jsonl")
            else iter(lambda: reader.read(CHUNK), b"")
        )
        with _open_private(target) as writer:
            for block in blocks:
                digest.update(block)
                writer.write(block)
                size += len(block)
    return BackupFile(name, digest.hexdigest(), size, f"{mode:04o}")


def _complete_lines(reader: BinaryIO) -> Iterator[bytes]:
    """A line log (the audit checkpoints) up to its last whole line: a line being appended while
    it is copied would otherwise end the copy half-written."""
    data = reader.read()
    yield data[: data.rfind(b"\n") + 1]


def _private_dirs(folder: Path) -> None:
    """Create ``folder`` and its missing parents, each readable by the owner only."""
    for missing in [*reversed(folder.parents), folder]:
        if not missing.exists():
            missing.mkdir(mode=PRIVATE_DIR, exist_ok=True)


def _open_private(path: Path) -> BufferedWriter:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    return os.fdopen(descriptor, "wb")


def _write_private(path: Path, data: bytes) -> None:
    with _open_private(path) as writer:
        writer.write(data)
        writer.flush()
        os.fsync(writer.fileno())


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as reader:
        while block := reader.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _described(out: Path, name: str) -> BackupFile:
    path = out / name
    path.chmod(PRIVATE_FILE)
    return BackupFile(name, _file_digest(path), path.stat().st_size, f"{PRIVATE_FILE:04o}")


# -- the database's snapshot --------------------------------------------------------------------


def _snapshot_database(url: str, out: Path) -> DatabaseSnapshot:
    (out / "database").mkdir(mode=PRIVATE_DIR)
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return _sqlite_snapshot(_sqlite_path(url), out)
    if backend == "postgresql":
        return _postgres_snapshot(url, out)
    raise BackupError(f"cannot back up a {backend} database: eligsim keeps SQLite or PostgreSQL")


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up or restore into")
    return Path(database)


def _sqlite_snapshot(source: Path, out: Path) -> DatabaseSnapshot:
    """SQLite's online backup API, all pages in one step: one read transaction, so the copy is one
    consistent state while writers carry on (WAL)."""
    if not source.is_file():
        raise BackupError(f"no SQLite database at {source}: nothing to back up")
    target = out / SQLITE_FILE
    live, copy = sqlite3.connect(source, timeout=30), sqlite3.connect(target)
    with closing(live), closing(copy):
        try:
            live.backup(copy)
        except sqlite3.DatabaseError as error:
            raise BackupError(f"cannot read the SQLite database {source}: {error}") from None
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    revision, counts = _facts_of_sqlite_file(target)
    return DatabaseSnapshot(_described(out, SQLITE_FILE), None, revision, counts)


def _facts_of_sqlite_file(path: Path) -> tuple[str | None, dict[str, int]]:
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return _facts(conn)
    finally:
        engine.dispose()


def _facts(conn: Connection) -> tuple[str | None, dict[str, int]]:
    """The schema revision and the counts the manifest promises."""
    if not inspect(conn).has_table("persons"):
        raise BackupError("the database holds no eligsim registry (run `eligsim registry init`)")
    revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    counts = {
        name: conn.execute(select(func.count()).select_from(table)).scalar_one()
        for name, table in COUNTED.items()
    }
    return revision, counts


def _postgres_snapshot(url: str, out: Path) -> DatabaseSnapshot:
    """``pg_dump`` of the service's schema from a snapshot this transaction exports and holds, so
    the counts read here describe exactly what was dumped."""
    registry = Registry(url)
    try:
        with registry.connect() as conn:
            conn.execution_options(isolation_level="REPEATABLE READ")
            schema = conn.execute(text("SELECT current_schema()")).scalar()
            if schema is None:
                raise BackupError(
                    "the schema DATABASE_URL names does not exist: nothing to back up"
                )
            snapshot: str = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            revision, counts = _facts(conn)
            dump = [f"--schema={_quoted(schema)}", f"--snapshot={snapshot}", "--format=custom"]
            _pg_tool("pg_dump", url, [*dump, f"--file={out / PGDUMP_FILE}"])
    finally:
        registry.dispose()
    return DatabaseSnapshot(_described(out, PGDUMP_FILE), schema, revision, counts)


def _quoted(schema: str) -> str:
    """A schema name as a pg_dump pattern matching that name only."""
    return '"' + schema.replace('"', '""') + '"'


def _pg_tool(tool: str, url: str, arguments: list[str]) -> str:
    """Run a PostgreSQL client program on the database of ``url``; its standard output. The
    password goes through the environment, never the command line others can read."""
    parsed = make_url(url)
    parts: dict[str, object] = {"host": parsed.host, "port": parsed.port}
    parts |= {"user": parsed.username, "dbname": parsed.database, **parsed.query}
    conninfo = make_conninfo(**{key: str(value) for key, value in parts.items() if value})
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    command = [tool, "--no-owner", "--no-privileges", *arguments, f"--dbname={conninfo}"]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BackupError(f"{tool} is not installed: {PG_CLIENT_HINT}") from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupError(f"{tool} failed: {reason}")
    return done.stdout


# -- restore ----------------------------------------------------------------------------------


def restore(settings: Settings, backup: Path) -> RestoreReport:
    """Check the backup against its manifest, then restore it into the empty target the settings
    name, bring the schema to the newest revision and check the audit chain and the counts."""
    manifest = verify_backup(backup)
    _require_empty_target(settings, manifest)
    _restore_database(settings.database_url, backup, manifest)
    _restore_files(settings, backup, manifest)
    return _check_restored(settings, manifest)


def verify_backup(backup: Path) -> Manifest:
    """The backup's manifest, once every file it lists is there with its digest and size, and the
    backup holds nothing else."""
    if not backup.is_dir():
        raise BackupError(f"{backup} is not a directory: give the directory `eligsim backup` wrote")
    manifest = _read_manifest(backup)
    listed = {entry.path for entry in manifest.files}
    for entry in manifest.files:
        _check_file(backup, entry)
    present = {path.relative_to(backup).as_posix() for path in _regular_files(backup)}
    extra = sorted(present - listed - {MANIFEST})
    if extra:
        raise BackupError(f"{backup}: {extra[0]} is not in the manifest: the backup was altered")
    if _database_file(manifest) not in listed:
        raise BackupError(f"{backup}: the manifest lists no database file")
    return manifest


def _read_manifest(backup: Path) -> Manifest:
    try:
        manifest = Manifest.from_json((backup / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{backup} holds no {MANIFEST}: not an eligsim backup") from None
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        raise BackupError(f"{backup}/{MANIFEST} cannot be read: {error}") from None
    if manifest.format != FORMAT or manifest.database not in ("sqlite", "postgresql"):
        raise BackupError(f"{backup}/{MANIFEST} is not a backup this eligsim can restore")
    for entry in manifest.files:
        _check_entry(backup, entry)
    return manifest


def _check_entry(backup: Path, entry: BackupFile) -> None:
    """Refuse a manifest naming a file outside the backup's layout (it could restore anywhere) or
    giving a mode that is not permission bits."""
    fields = (entry.path, entry.sha256, entry.size, entry.mode)
    if [type(field) for field in fields] != [str, str, int, str]:
        raise BackupError(f"{backup}/{MANIFEST} lists a file it does not describe: {entry}")
    name = entry.path
    path = PurePosixPath(name)
    parts = path.parts
    sound = not path.is_absolute() and all(part not in ("", ".", "..") for part in parts)
    known = name in (SQLITE_FILE, PGDUMP_FILE, *AUDIT_FILES) or (
        len(parts) > 1 and (parts[0] == "jpki" or (parts[0] == "var" and parts[1] in VAR_PARTS))
    )
    if not (sound and known and len(parts) > 1):
        raise BackupError(f"{backup}/{MANIFEST} names {name!r}, outside a backup's layout")
    if not re.fullmatch(r"0[0-7]{3}", entry.mode):
        raise BackupError(f"{backup}/{MANIFEST} gives {name!r} the mode {entry.mode!r}")


def _check_file(backup: Path, entry: BackupFile) -> None:
    path = backup / entry.path
    if not path.is_file():
        raise BackupError(f"{backup}: {entry.path} is missing: the backup is incomplete")
    if path.stat().st_size != entry.size or _file_digest(path) != entry.sha256:
        raise BackupError(
            f"{backup}: {entry.path} does not match its digest in the manifest: the backup was "
            "altered or damaged; restore another one"
        )


def _database_file(manifest: Manifest) -> str:
    return SQLITE_FILE if manifest.database == "sqlite" else PGDUMP_FILE


# -- the target must be empty -------------------------------------------------------------------


def _require_empty_target(settings: Settings, manifest: Manifest) -> None:
    """Restore never mixes a backup with existing state: the database and the directories it
    writes to must be empty (move the old ones away first)."""
    kind = make_url(settings.database_url).get_backend_name()
    if kind != manifest.database:
        raise BackupError(
            f"this backup holds a {manifest.database} database but DATABASE_URL names {kind}"
        )
    if kind == "sqlite":
        database = _sqlite_path(settings.database_url)
        _require_empty_sqlite(database)
        skip = {database.resolve(), *(_sqlite_siblings(database.resolve()))}
    else:
        _require_empty_schema(settings.database_url, manifest.schema or "")
        skip = set()
    _require_empty_dir(settings.var_dir, skip, "var directory")
    _require_empty_dir(settings.jpki_dir, skip, "JPKI directory")
    for path in _audit_files_elsewhere(settings).values():
        if path.exists():
            raise BackupError(
                f"{path} exists: restore only into an empty target (move the old one away first)"
            )


def _sqlite_siblings(database: Path) -> list[Path]:
    return [database.with_name(database.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


def _require_empty_sqlite(database: Path) -> None:
    if not database.exists() or database.stat().st_size == 0:
        return
    try:
        with closing(sqlite3.connect(database)) as conn:
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{database} is not an empty database ({error})") from None
    if tables:
        raise BackupError(
            f"{database} already holds a database: restore only into an empty target "
            "(move the old database and var directory away first)"
        )


def _require_empty_dir(folder: Path, allowed: set[Path], what: str) -> None:
    """Empty folders are no state; any file (but an empty database being restored into) is."""
    found = next((path for path in _entries(folder) if path.resolve() not in allowed), None)
    if found is not None:
        raise BackupError(
            f"the {what} {folder} is not empty ({found}): restore only into an empty one "
            "(move the old one away first)"
        )


def _entries(root: Path) -> Iterator[Path]:
    """Everything under ``root`` that is not a directory."""
    for folder, dirs, names in os.walk(root):
        for name in sorted(names) + [d for d in dirs if (Path(folder) / d).is_symlink()]:
            yield Path(folder) / name


def _require_empty_schema(url: str, schema: str) -> None:
    registry = Registry(url)
    try:
        with registry.connect() as conn:
            target = _target_schema(conn)
            relations: int = conn.execute(
                text(
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = :schema"
                ),
                {"schema": target},
            ).scalar_one()
    finally:
        registry.dispose()
    if target != schema:
        raise BackupError(
            f"this backup holds the schema {schema!r} but DATABASE_URL names {target!r}: restore "
            "into an empty schema (or new database) of the backup's schema name"
        )
    if relations:
        raise BackupError(
            f"the schema {target!r} is not empty: restore only into an empty schema or a new "
            "database (move the old one away first)"
        )


def _target_schema(conn: Connection) -> str:
    """The schema DATABASE_URL names: the first of its search path, created or not yet."""
    current = conn.execute(text("SELECT current_schema()")).scalar()
    if current is not None:
        return str(current)
    first = str(conn.execute(text("SHOW search_path")).scalar_one()).split(",")[0].strip()
    if first == '"$user"':
        return str(conn.execute(text("SELECT current_user")).scalar_one())
    return first.strip('"')


# -- writing the target -------------------------------------------------------------------------


def _restore_database(url: str, backup: Path, manifest: Manifest) -> None:
    if manifest.database == "sqlite":
        _restore_sqlite(backup / SQLITE_FILE, _sqlite_path(url))
    else:
        _restore_postgres(url, backup / PGDUMP_FILE, manifest.schema or "")


def _restore_sqlite(copy: Path, database: Path) -> None:
    """Copy beside the target, then rename over it: the target is whole or absent."""
    _private_dirs(database.parent)
    for sibling in _sqlite_siblings(database):
        sibling.unlink(missing_ok=True)
    fd, staging = tempfile.mkstemp(dir=database.parent, prefix=f".{database.name}.")
    try:
        with os.fdopen(fd, "wb") as writer, copy.open("rb") as reader:
            shutil.copyfileobj(reader, writer, CHUNK)
            writer.flush()
            os.fsync(writer.fileno())
        os.replace(staging, database)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def _restore_postgres(url: str, dump: Path, schema: str) -> None:
    """``pg_restore`` in one transaction, into the schema made here (or the empty one there)."""
    registry = Registry(url)
    try:
        with registry.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {_quoted(schema)}"))
    finally:
        registry.dispose()
    listing = _pg_tool("pg_restore", url, ["--list", str(dump)])
    kept = [line for line in listing.splitlines() if not _creates_schema(line, schema)]
    with tempfile.NamedTemporaryFile("w", suffix=".list", encoding="utf-8") as chosen:
        chosen.write("\n".join(kept) + "\n")
        chosen.flush()
        options = ["--exit-on-error", "--single-transaction", f"--use-list={chosen.name}"]
        _pg_tool("pg_restore", url, [*options, str(dump)])


def _creates_schema(line: str, schema: str) -> bool:
    """Whether a ``pg_restore --list`` line creates (or comments on) ``schema``, which exists."""
    return f" SCHEMA - {schema} " in line or f" COMMENT - SCHEMA {schema} " in line


def _restore_files(settings: Settings, backup: Path, manifest: Manifest) -> None:
    roots = {"var": settings.var_dir, "jpki": settings.jpki_dir}
    files = dict(
        zip(AUDIT_FILES, (settings.audit_key_file, settings.audit_checkpoints), strict=True)
    )
    for entry in manifest.files:
        top, *rest = PurePosixPath(entry.path).parts
        if entry.path in files:
            _restore_file(backup / entry.path, files[entry.path], entry.mode)
        elif top in roots:
            _restore_file(backup / entry.path, roots[top].joinpath(*rest), entry.mode)


def _restore_file(source: Path, target: Path, mode: str) -> None:
    _private_dirs(target.parent)
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        raise BackupError(f"{target} exists already: the restore writes nothing over it") from None
    with os.fdopen(descriptor, "wb") as writer, source.open("rb") as reader:
        shutil.copyfileobj(reader, writer, CHUNK)
    target.chmod(int(mode, 8) & 0o777)


def _check_restored(settings: Settings, manifest: Manifest) -> RestoreReport:
    """Migrate the restored database, then hold it to the manifest: the same counts, an intact
    audit chain under the restored audit keys and checkpoints."""
    registry = Registry(settings.database_url)
    try:
        migrate(registry)
        with registry.connect() as conn:
            _revision, counts = _facts(conn)
            chain = verify_chain(conn, AuditTrail.for_settings(settings))
    finally:
        registry.dispose()
    if counts != manifest.counts:
        raise BackupError(f"the restored database holds {counts}, the manifest {manifest.counts}")
    if not chain.intact:
        raise BackupError(
            f"the restored audit log is broken at entry {chain.first_broken}: {chain.reason}"
        )
    return RestoreReport(manifest, chain.entries)
