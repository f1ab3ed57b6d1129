"""CSV imports shared by the connectors: versioned schemas chosen by header, per-field validation
with row/field/message/value errors, file-level rejection, and the error CSV for a batch.

Row numbers follow spreadsheets: the header is row 1, the first record row 2."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from services.kit.errors import FieldViolation, InvalidArgument

MAX_BYTES = 50 * 1024 * 1024
MAX_ROWS = 200_000
EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
Parser = Callable[[str], Any]


class CsvRejected(InvalidArgument):
    """The file as a whole cannot be imported; nothing from it is stored."""

    reason = "CSV_REJECTED"


class FieldInvalid(ValueError):
    """A parser's verdict on one value."""


@dataclass(frozen=True)
class Column:
    """One column of a schema: how to parse it, and whether a value is required."""

    name: str
    parse: Parser
    required: bool = True


@dataclass(frozen=True)
class Schema:
    """A versioned CSV layout, recognised by its exact header set."""

    name: str
    version: str
    columns: tuple[Column, ...]
    key: str | None = None

    @property
    def header(self) -> frozenset[str]:
        """The column names that identify this schema."""
        return frozenset(c.name for c in self.columns)


@dataclass(frozen=True)
class RowError:
    """Why one field of one row was refused."""

    row: int
    field: str
    message: str
    value: str


@dataclass(frozen=True)
class Row:
    """One record row, its raw text and (when valid) its parsed values."""

    number: int
    raw: dict[str, str]
    values: dict[str, Any]
    errors: tuple[RowError, ...] = ()


@dataclass
class Parsed:
    """The outcome of parsing a file against the schemas a connector knows."""

    schema: Schema
    valid: list[Row] = field(default_factory=list)
    invalid: list[Row] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Number of record rows."""
        return len(self.valid) + len(self.invalid)


def parse(data: bytes, schemas: Sequence[Schema], *, max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS) -> Parsed:
    """Parses a whole CSV file; raises CsvRejected for file-level faults, keeps row faults per row."""
    if len(data) > max_bytes:
        raise _rejected(f"the file is larger than {max_bytes} bytes")
    reader = csv.reader(io.StringIO(_decode(data), newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise _rejected("the file is empty")
        schema = _schema_for(header, schemas)
        parsed = Parsed(schema)
        names = [h.strip().lower() for h in header]
        seen_keys: dict[str, int] = {}
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if parsed.total >= max_rows:
                raise _rejected(f"the file has more than {max_rows} rows")
            row = _row(reader.line_num, names, cells, schema, seen_keys)
            (parsed.invalid if row.errors else parsed.valid).append(row)
    except csv.Error as exc:
        raise _rejected(f"malformed CSV near line {reader.line_num}: {exc}") from exc
    if parsed.total == 0:
        raise _rejected("the file has a header but no rows")
    return parsed


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _rejected(f"the file is not UTF-8 (invalid byte at offset {exc.start})") from exc


def _schema_for(header: list[str], schemas: Sequence[Schema]) -> Schema:
    names = [h.strip().lower() for h in header]
    if len(names) == 1 and any(sep in names[0] for sep in (";", "\t", "|")):
        raise _rejected("the header is not comma-separated; use ',' as the delimiter")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise _rejected(f"duplicate columns in the header: {', '.join(duplicates)}")
    for schema in schemas:
        if frozenset(names) == schema.header:
            return schema
    known = "; ".join(f"{s.name} v{s.version}: {','.join(c.name for c in s.columns)}" for s in schemas)
    raise _rejected(f"unknown header {','.join(names)}; expected one of: {known}")


def _row(number: int, names: list[str], cells: list[str], schema: Schema, seen_keys: dict[str, int]) -> Row:
    if len(cells) != len(names):
        raw = dict(zip(names, cells, strict=False))
        message = f"expected {len(names)} fields, found {len(cells)}"
        return Row(number, raw, {}, (RowError(number, "*", message, ",".join(cells)[:200]),))
    raw = dict(zip(names, cells, strict=True))
    values: dict[str, Any] = {}
    errors: list[RowError] = []
    for column in schema.columns:
        value = raw[column.name].strip()
        if not value:
            if column.required:
                errors.append(RowError(number, column.name, "is required", value))
            values[column.name] = None
            continue
        try:
            values[column.name] = column.parse(value)
        except FieldInvalid as exc:
            errors.append(RowError(number, column.name, str(exc), value[:200]))
    if schema.key and not errors:
        key = str(values[schema.key])
        if key in seen_keys:
            message = f"duplicate {schema.key} in this file (first at row {seen_keys[key]})"
            errors.append(RowError(number, schema.key, message, key))
        else:
            seen_keys[key] = number
    return Row(number, raw, values, tuple(errors))


def _rejected(message: str) -> CsvRejected:
    return CsvRejected(message, violations=[FieldViolation("body", message)])


def error_csv(errors: Sequence[RowError]) -> bytes:
    """The error report of a batch: row, field, message, value (spreadsheet formulas neutralised)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["row", "field", "message", "value"])
    for error in errors:
        writer.writerow([error.row, error.field, error.message, _neutralise(error.value)])
    return out.getvalue().encode("utf-8")


def _neutralise(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


# Field parsers: each returns the parsed value or raises FieldInvalid with a message for people.


def text(max_length: int, *, min_length: int = 1) -> Parser:
    """Free text of bounded length."""

    def parse_text(value: str) -> str:
        if not min_length <= len(value) <= max_length:
            raise FieldInvalid(f"must be {min_length}-{max_length} characters (has {len(value)})")
        return value

    return parse_text


def email(value: str) -> str:
    """An e-mail address, normalised (trimmed, lower-cased), at most 255 characters."""
    if len(value) > 255 or not EMAIL.match(value):
        raise FieldInvalid("is not a valid e-mail address")
    return value.lower()


def timestamp(value: str) -> datetime:
    """An ISO 8601 date-time (zone-less means UTC) or a YYYY-MM-DD date (midnight UTC)."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FieldInvalid("must be an ISO date-time or YYYY-MM-DD") from None
    if len(value) == 10:
        parsed = datetime.combine(date.fromisoformat(value), time(0), UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def integer(low: int, high: int) -> Parser:
    """A whole number in [low, high]."""

    def parse_integer(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise FieldInvalid("must be a whole number") from None
        if not low <= number <= high:
            raise FieldInvalid(f"must be between {low} and {high}")
        return number

    return parse_integer


def number(low: float, high: float) -> Parser:
    """A decimal number in [low, high]."""

    def parse_number(value: str) -> float:
        try:
            parsed = float(value)
        except ValueError:
            raise FieldInvalid("must be a number") from None
        if not low <= parsed <= high:  # also refuses NaN, which compares false with everything
            raise FieldInvalid(f"must be between {low:g} and {high:g}")
        return parsed

    return parse_number


def choice(*allowed: str) -> Parser:
    """One of a fixed set of values (case-insensitive), returned lower-cased."""

    def parse_choice(value: str) -> str:
        lowered = value.lower()
        if lowered not in {a.lower() for a in allowed}:
            raise FieldInvalid(f"must be one of {', '.join(allowed)}")
        return lowered

    return parse_choice


def listing(max_length: int) -> Parser:
    """A comma-separated list (in one quoted field), at most `max_length` characters."""

    def parse_listing(value: str) -> list[str]:
        if len(value) > max_length:
            raise FieldInvalid(f"must be at most {max_length} characters")
        return [item.strip() for item in value.split(",") if item.strip()]

    return parse_listing


def json_object(max_length: int) -> Parser:
    """A JSON object given as text."""

    def parse_json(value: str) -> dict[str, Any]:
        if len(value) > max_length:
            raise FieldInvalid(f"must be at most {max_length} characters")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            raise FieldInvalid("is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise FieldInvalid("must be a JSON object")
        return parsed

    return parse_json
