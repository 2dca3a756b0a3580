"""Statements on the hot path, compiled once per database and run on the driver's own cursor.

An eligibility check runs two reads and a group of audit entries runs three writes; through
SQLAlchemy's ``Connection.execute`` each statement costs more of the worker's CPU than the
database's work on it (cache lookup, execution context, result object). A ``PreparedStatement``
keeps what SQLAlchemy compiled for the dialect (the SQL text, the order of its parameters, the
conversions of parameters and columns, such as SQLite's dates kept as text) and hands the SQL to
the DBAPI cursor of the caller's connection: the same transaction, the same rows and types.
PostgreSQL's driver prepares a statement on the server once it has run a few times."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql import Executable

Convert = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the parameters in the order the SQL takes them; none: named style
    fixed: Mapping[str, Any]  # the values the statement itself binds (``id == 1``)
    bind_conversions: tuple[tuple[str, Convert], ...]
    column_conversions: tuple[tuple[int, Convert], ...]

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        converted = {**self.fixed, **values}
        for name, convert in self.bind_conversions:
            converted[name] = convert(converted[name])
        return [converted[name] for name in self.names] if self.names else converted

    def rows(self, fetched: Sequence[Any]) -> list[tuple[Any, ...]]:
        if not self.column_conversions:
            return [tuple(row) for row in fetched]
        converted = []
        for row in fetched:
            values = list(row)
            for index, convert in self.column_conversions:
                values[index] = convert(values[index])
            converted.append(tuple(values))
        return converted


class PreparedStatement:
    """One statement with plain (not expanding) bound parameters, compiled once per dialect."""

    def __init__(self, statement: Executable) -> None:
        self._statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def rows(self, conn: Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row, as tuples in the statement's column order."""
        compiled = self._for(conn.dialect)
        cursor = conn.connection.cursor()
        try:
            cursor.execute(compiled.sql, compiled.parameters(values))
            return compiled.rows(cursor.fetchall())
        finally:
            cursor.close()

    def run(
        self, conn: Connection, values: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> None:
        """Execute for one set of values, or for each of a sequence of them (no rows read)."""
        compiled = self._for(conn.dialect)
        cursor = conn.connection.cursor()
        try:
            if isinstance(values, Mapping):
                cursor.execute(compiled.sql, compiled.parameters(values))
            else:
                each = [compiled.parameters(one) for one in values]
                cursor.executemany(compiled.sql, each)  # type: ignore[arg-type]
        finally:
            cursor.close()

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _compile(self._statement, dialect)
        return compiled


def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    binds = compiled.binds
    if any(bind.expanding for bind in binds.values()):
        raise ValueError("a prepared statement takes no expanding (IN list) parameters")
    bind_conversions = tuple(
        (name, convert)
        for name, bind in binds.items()
        if (convert := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    )
    columns = getattr(statement, "selected_columns", ())
    column_conversions = tuple(
        (index, convert)
        for index, column in enumerate(columns)
        if (convert := column.type.dialect_impl(dialect).result_processor(dialect, None))
        is not None
    )
    fixed = {name: bind.effective_value for name, bind in binds.items() if not bind.required}
    return _Compiled(
        compiled.string,
        tuple(compiled.positiontup or ()),
        fixed,
        bind_conversions,
        column_conversions,
    )
