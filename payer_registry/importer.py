"""Payer updates: import person records from JSON Lines or CSV (UTF-8 or Shift_JIS).

A file is validated whole before anything is written; with ``skip_invalid`` the valid lines are
written and the rejected ones are returned for the caller to keep. The records are written in short
transactions, all or nothing as the user sees it (``payer_registry.staging``)."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from marshmallow import ValidationError
from sqlalchemy import Connection

from payer_registry import staging
from payer_registry.db import Registry
from payer_registry.records import (
    PERSON_RECORD,
    QualificationSchema,
    UnreadableJson,
    flatten_errors,
    refuse_unstorable,
    strict_json,
)
from payer_registry.writer import (
    PERSON_FIELDS,
    Incoming,
    RecordConflict,
    matching_person,
    persons_written,
    write_records,
)

CSV_QUALIFICATION_FIELDS = tuple(QualificationSchema().fields)
CSV_COLUMNS = (*PERSON_FIELDS, *CSV_QUALIFICATION_FIELDS, "previous_insured_number")
ENCODINGS = {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "shift_jis": "shift_jis", "cp932": "cp932"}
"""The encodings a file may name (by any of Python's aliases: utf8, sjis, ms932, …): a
Japanese file is in one of these, and any other codec (latin-1 decodes every byte) would import
garbled names silently."""


class ImportFileError(ValueError):
    """The file cannot be read at all (missing, unknown format, undecodable)."""


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


@dataclass(frozen=True, slots=True)
class ParsedLine:
    line: int
    text: str
    record: dict | None
    anchor: str | None
    errors: list[LineError]


@dataclass
class ImportResult:
    written: int = 0
    rejected: list[ParsedLine] = field(default_factory=list)
    header: str | None = None
    """A CSV file's header row, so that the rejected lines can be fixed and imported again."""
    conflicts: list[LineError] = field(default_factory=list)
    """Valid lines left out as they were written: another write had changed the registry."""

    @property
    def errors(self) -> list[LineError]:
        return [error for parsed in self.rejected for error in parsed.errors]

    def rejects_text(self) -> str:
        """The rejected lines as a file of the input's format (a CSV one keeps its header row)."""
        lines = [parsed.text for parsed in self.rejected]
        header_rejected = any(parsed.line == 1 for parsed in self.rejected)
        if self.header is not None and not header_rejected:
            lines.insert(0, self.header)
        return "".join(line + "\n" for line in lines)


class ImportRejected(ValueError):
    def __init__(self, errors: list[LineError]) -> None:
        super().__init__(f"{len(errors)} error(s); nothing was written")
        self.errors = errors


Progress = Callable[[int, int], None]
"""Told the records written so far and the total, after each chunk."""
OnWritten = Callable[[Connection, list[int]], None]
"""Told of the persons a chunk wrote (one id per record, in order), at the end of the transaction
that writes them (the service audits them)."""


def import_file(
    registry: Registry,
    path: Path,
    encoding: str | None = None,
    skip_invalid: bool = False,
    author: str = "",
    progress: Progress | None = None,
    on_written: OnWritten | None = None,
) -> ImportResult:
    """Validate every line, staging the valid ones out of sight, then write them in short
    transactions (``payer_registry.staging``): all lines, or with ``skip_invalid`` the valid ones.
    A file with an invalid line and no ``skip_invalid`` writes nothing. ``author`` is kept with the
    staged import, for whoever completes it after a crash."""
    result = ImportResult(header=csv_header(path) if _is_csv(path) else None)
    stager = staging.Stager(registry, merge=_is_csv(path), author=author)
    try:
        _validate_and_stage(registry, path, encoding, skip_invalid, stager, result)
        if result.rejected and not skip_invalid:
            raise ImportRejected(result.errors)
        stager.commit()
    except BaseException:
        stager.drop()
        raise
    found = staging.UnfinishedImport(stager.import_id, _is_csv(path), author, stager.staged, 0)
    completed = complete_import(registry, found, on_written, progress)
    result.written, result.conflicts = completed.written, completed.conflicts
    return result


def _validate_and_stage(
    registry: Registry,
    path: Path,
    encoding: str | None,
    skip_invalid: bool,
    stager: staging.Stager,
    result: ImportResult,
) -> None:
    """Every line validated (against the file's other lines and the registry as well); the valid
    ones staged, until a first invalid one makes the import one that writes nothing."""
    with registry.connect() as conn:
        seen: dict[str, int] = {}
        for parsed in parse_file(path, encoding):
            if parsed.record is not None:
                parsed.errors.extend(_conflicts(conn, parsed, seen))
            if parsed.errors:
                result.rejected.append(parsed)
            elif skip_invalid or not result.rejected:
                assert parsed.record is not None  # a line without a record has errors
                stager.add(parsed.line, parsed.record, parsed.anchor)


def complete_import(
    registry: Registry,
    found: staging.UnfinishedImport,
    on_written: OnWritten | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Write a staged import past its commit point, from where it stands, in short transactions.
    A record whose insured numbers came to belong to other persons since it was validated is left
    out, and named in ``conflicts``."""
    result = ImportResult()

    def write(conn: Connection, chunk: list[staging.Pending]) -> None:
        incoming = [Incoming(item.record, item.anchor) for item in chunk]
        outcomes = write_records(conn, incoming, merge=found.merge)
        written = persons_written(outcomes)
        for item, outcome in zip(chunk, outcomes, strict=True):
            if isinstance(outcome, RecordConflict):
                message = f"{outcome} (since it was validated); not imported"
                result.conflicts.append(LineError(item.line, "qualifications", message))
        if on_written and written:
            on_written(conn, written)
        result.written += len(written)

    def told(position: int) -> None:
        if progress:
            progress(position, found.total)

    journal = staging.StagedJournal(found.import_id)
    staging.write_in_chunks(registry, journal, write, told)
    with registry.begin() as conn:
        staging.close_journal(conn, found.import_id)
    return result


def parse_file(path: Path, encoding: str | None = None) -> Iterator[ParsedLine]:
    """Each data line of the file, validated on its own; the file is streamed, never held whole."""
    if path.suffix.lower() not in (".csv", ".jsonl", ".ndjson", ".json"):
        raise ImportFileError(f"{path}: unknown format; use .jsonl (JSON Lines) or .csv")
    encoding = encoding or sniff_encoding(path)
    with _open(path, encoding) as stream:
        try:
            yield from (_parse_csv if _is_csv(path) else _parse_json_lines)(stream)
        except UnicodeDecodeError:
            raise ImportFileError(f"{path}: not valid {encoding}") from None


def csv_header(path: Path) -> str:
    """The raw text of a CSV file's header row. A header that passes holds ASCII column names only,
    which read the same in every supported encoding, so no detection is needed."""
    consumed: list[str] = []
    try:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as stream:
            next(csv.reader(_recording(stream, consumed)), None)
    except OSError as error:
        raise ImportFileError(f"{path}: {error.strerror}") from None
    return "".join(consumed).rstrip("\r\n")


def supported_encoding(name: str) -> str:
    """The codec ``name`` stands for when it is one of ``ENCODINGS``, else ``ImportFileError``."""
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        codec = ""
    if codec not in ENCODINGS:
        raise ImportFileError(f"unsupported encoding {name!r}; use utf-8 or shift_jis")
    return ENCODINGS[codec]


def sniff_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when the whole file decodes as such, else Shift_JIS."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with _open(path, None) as stream:
        try:
            for block in iter(lambda: stream.read(1 << 20), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "shift_jis"
    return "utf-8-sig"


def _open(path: Path, encoding: str | None):
    if encoding:
        encoding = supported_encoding(encoding)
    try:
        if encoding is None:
            return path.open("rb")
        return path.open(encoding=encoding, newline="")
    except OSError as error:
        raise ImportFileError(f"{path}: {error.strerror}") from None


def _is_csv(path: Path) -> bool:
    return path.suffix.lower() == ".csv"


def _parse_json_lines(stream: Iterable[str]) -> Iterator[ParsedLine]:
    for number, line in enumerate(stream, start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        try:
            raw = strict_json(line)
        except UnreadableJson as error:
            yield _unreadable(number, line, str(error))
            continue
        if not isinstance(raw, dict):
            yield _unreadable(number, line, "not a JSON object")
            continue
        yield _validated(number, line, raw, None)


def _parse_csv(stream: Iterable[str]) -> Iterator[ParsedLine]:
    consumed: list[str] = []
    reader = csv.DictReader(_recording(stream, consumed))
    header_error = _csv_header_error(reader.fieldnames or [])
    if header_error:
        header = "".join(consumed).rstrip("\r\n")
        yield ParsedLine(1, header, None, None, [LineError(1, "(header)", header_error)])
        return
    consumed.clear()
    for row in reader:
        text = "".join(consumed).rstrip("\r\n")
        consumed.clear()
        values = {k: v for k, v in row.items() if k is not None and v not in ("", None)}
        anchor = values.pop("previous_insured_number", None)
        qualification = {k: values.pop(k) for k in CSV_QUALIFICATION_FIELDS if k in values}
        raw = {**values, "qualifications": [qualification]}
        try:
            refuse_unstorable(raw)
        except UnreadableJson as error:
            yield _unreadable(reader.line_num, text, str(error), anchor)
            continue
        yield _validated(reader.line_num, text, raw, anchor)


def _unreadable(number: int, text: str, message: str, anchor: str | None = None) -> ParsedLine:
    """A line refused whole, before its fields are looked at."""
    return ParsedLine(number, text, None, anchor, [LineError(number, "(line)", message)])


def _recording(stream: Iterable[str], consumed: list[str]) -> Iterator[str]:
    """Pass lines through, keeping the raw text of the current CSV row for the rejects file."""
    for line in stream:
        consumed.append(line)
        yield line


def _csv_header_error(columns: Sequence[str]) -> str | None:
    missing = [c for c in ("name", "insured_number") if c not in columns]
    unknown = [c for c in columns if c not in CSV_COLUMNS]
    parts = [
        f"missing columns: {', '.join(missing)}" if missing else "",
        f"unknown columns: {', '.join(unknown)}" if unknown else "",
    ]
    return "; ".join(part for part in parts if part) or None


def _validated(number: int, text: str, raw: dict, anchor: str | None) -> ParsedLine:
    try:
        record = PERSON_RECORD.load(raw)
    except ValidationError as error:
        errors = [
            LineError(number, path, message) for path, message in flatten_errors(error.messages)
        ]
        return ParsedLine(number, text, None, anchor, errors)
    return ParsedLine(number, text, record, anchor, [])


def _conflicts(conn: Connection, parsed: ParsedLine, seen: dict[str, int]) -> list[LineError]:
    errors = []
    assert parsed.record is not None  # called for the lines that have a record only
    numbers = [q["insured_number"] for q in parsed.record["qualifications"]]
    for number in numbers:
        if number in seen:
            errors.append(
                LineError(parsed.line, "insured_number", f"{number} is also on line {seen[number]}")
            )
        seen.setdefault(number, parsed.line)
    try:
        matching_person(conn, numbers + ([parsed.anchor] if parsed.anchor else []))
    except RecordConflict as error:
        errors.append(LineError(parsed.line, "qualifications", str(error)))
    return errors
