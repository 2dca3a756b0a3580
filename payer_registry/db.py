"""Opening the registry database: SQLite by default (WAL mode), PostgreSQL through psycopg 3."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

MIGRATIONS = Path(__file__).with_name("migrations")


class RegistryUnavailable(RuntimeError):
    """The database cannot be opened or reached; the message says which and why."""


class Registry:
    """A handle on the registry database. Domain functions take the ``Connection`` it hands out."""

    def __init__(self, url: str) -> None:
        self.url = _normalise_url(url)
        self.engine: Engine = create_engine(self.url, **_engine_options(self.url))
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection inside a transaction: committed on success, rolled back on error."""
        with self._reachable(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self._reachable(), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads only, outside any transaction: no BEGIN and no ROLLBACK round
        trips on PostgreSQL (each of its statements sees the data committed when it starts, as in
        a READ COMMITTED transaction). On SQLite reads open none anyway (and switching the level
        would cost a PRAGMA per checkout)."""
        with self.connect() as conn:
            if self.dialect == "sqlite":
                yield conn
            else:
                yield conn.execution_options(isolation_level="AUTOCOMMIT")

    def has_schema(self) -> bool:
        with self.connect() as conn:
            return inspect(conn).has_table("persons")

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as error:
            reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
            raise RegistryUnavailable(
                f"cannot use the registry at {self.safe_url}: {reason}"
            ) from None

    @property
    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)


def _normalise_url(url: str) -> str:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise RegistryUnavailable(f"DATABASE_URL is not a database URL: {url!r}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    database = parsed.database
    if parsed.get_backend_name() == "sqlite" and database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    return parsed.render_as_string(hide_password=False)


RECYCLE_AFTER = 1800  # seconds: a PostgreSQL connection older than this is closed at checkout


def _engine_options(url: str) -> dict:
    """SQLite: pooled connections (kept open, so a thread mostly gets the one it had), their pragmas
    set once when each opens, never per checkout. PostgreSQL: no ping
    before every checkout (a round trip per request); instead connections are renewed after
    ``RECYCLE_AFTER`` seconds, and a statement failing with a lost connection invalidates the
    pool, so that the request answers 503 and the next ones open fresh connections."""
    if make_url(url).get_backend_name() == "sqlite":
        return {"connect_args": {"check_same_thread": False, "timeout": 30}}
    return {"pool_recycle": RECYCLE_AFTER, "pool_size": 5}


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
