"""CSV imports shared by the connectors: versioned schemas chosen by header, one typed row model per
schema, row/field/message/value errors, file-level rejection, and the error CSV of a batch.

A schema's row model is a pydantic model whose fields are its columns, each annotated with the
`Cell` parser that reads it, so header, cell rules and typed row are declared once; rules across a
row's fields are the model's validators. Row numbers follow spreadsheets: the header is row 1."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from services.kit import characters
from services.kit.connectors import payloads
from services.kit.connectors.cells import FieldInvalid, Parser
from services.kit.errors import FieldViolation, InvalidArgument

MAX_BYTES = 50 * 1024 * 1024
# The gRPC message limit of a service taking whole CSV exports in one message: the file limit plus the envelope.
MESSAGE_BYTES = MAX_BYTES + 1024 * 1024
MAX_ROWS = 200_000
RowT = TypeVar("RowT", bound=BaseModel)
RowT_co = TypeVar("RowT_co", bound=BaseModel, covariant=True)


class CsvRejected(InvalidArgument):
    """The file as a whole cannot be imported; nothing from it is stored."""

    reason = "CSV_REJECTED"


@dataclass(frozen=True)
class Cell:
    """How a CSV cell becomes a row model's field (Annotated metadata of that field)."""

    parse: Parser


@dataclass(frozen=True)
class Column:
    """One column of a schema: how to parse it, and whether a value is required."""

    name: str
    parse: Parser
    required: bool = True


@dataclass(frozen=True)
class Schema(Generic[RowT_co]):
    """A versioned CSV layout recognised by its exact header set; the `key` columns are unique per file
    (a repeat is reported under the first of them)."""

    name: str
    version: str
    model: type[RowT_co]
    key: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[Column, ...]:
        """The row model's fields as columns, in declaration order."""
        return tuple(
            Column(name, _cell_parser(name, info.metadata), info.is_required())
            for name, info in self.model.model_fields.items()
        )

    @property
    def header(self) -> frozenset[str]:
        """The column names that identify this schema."""
        return frozenset(self.model.model_fields)


def _cell_parser(name: str, metadata: Sequence[object]) -> Parser:
    for item in metadata:
        if isinstance(item, Cell):
            return item.parse
    raise TypeError(f"column {name} declares no Cell parser")


@dataclass(frozen=True)
class RowError:
    """Why one field of one row was refused."""

    row: int
    field: str
    message: str
    value: str


@dataclass(frozen=True)
class Row(Generic[RowT_co]):
    """One valid record row: its raw text and its typed record."""

    number: int
    raw: Mapping[str, str]
    record: RowT_co


@dataclass(frozen=True)
class Rejected:
    """One quarantined row: its raw text and why it was refused."""

    number: int
    raw: Mapping[str, str]
    errors: tuple[RowError, ...]


@dataclass(frozen=True)
class Parsed(Generic[RowT_co]):
    """The outcome of parsing a file against the schemas a connector knows."""

    schema: Schema[RowT_co]
    valid: tuple[Row[RowT_co], ...] = ()
    invalid: tuple[Rejected, ...] = ()

    @property
    def total(self) -> int:
        """Number of record rows."""
        return len(self.valid) + len(self.invalid)

    def quarantine(self, errors: Mapping[int, Sequence[RowError]]) -> Parsed[RowT_co]:
        """This outcome with the valid rows that `errors` names (by row number) quarantined."""
        if not errors:
            return self
        moved = [Rejected(r.number, r.raw, tuple(errors[r.number])) for r in self.valid if r.number in errors]
        kept = tuple(r for r in self.valid if r.number not in errors)
        invalid = tuple(sorted((*self.invalid, *moved), key=lambda r: r.number))
        return Parsed(self.schema, kept, invalid)


def parse(
    data: bytes, schemas: Sequence[Schema[RowT]], *, max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS
) -> Parsed[RowT]:
    """Parses a whole CSV file; raises CsvRejected for file-level faults, keeps row faults per row.

    The bytes are decoded as they are read (no decoded copy of the whole file); a file that is not
    UTF-8 is refused as such before any other fault of it, as when it was decoded up front."""
    if len(data) > max_bytes:
        raise _rejected(f"the file is larger than {max_bytes} bytes")
    try:
        return _read(data, schemas, max_rows)
    except (CsvRejected, UnicodeDecodeError):
        _decode(data)  # the encoding fault first, wherever it is in the file
        raise


def _read(data: bytes, schemas: Sequence[Schema[RowT]], max_rows: int) -> Parsed[RowT]:
    # newline="": records, not lines; a quoted line break stays in its row, as a spreadsheet shows it.
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    reader = csv.reader(text, strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise _rejected("the file is empty")
        names = [h.strip().lower() for h in header]
        reading = _Reading(_schema_for(names, schemas), names)
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            if reading.total >= max_rows:
                raise _rejected(f"the file has more than {max_rows} rows")
            reading.add(number, cells)
    except csv.Error as exc:
        raise _rejected(f"malformed CSV near line {reader.line_num}: {exc}") from exc
    if reading.total == 0:
        raise _rejected("the file has a header but no rows")
    return Parsed(reading.schema, tuple(reading.valid), tuple(reading.invalid))


def _decode(data: bytes) -> None:
    """Refuses a file that is not UTF-8, naming the first invalid byte (decoding it whole: the error path)."""
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _rejected(f"the file is not UTF-8 (invalid byte at offset {exc.start})") from exc


def _schema_for(names: list[str], schemas: Sequence[Schema[RowT]]) -> Schema[RowT]:
    if len(names) == 1 and any(sep in names[0] for sep in (";", "\t", "|")):
        raise _rejected("the header is not comma-separated; use ',' as the delimiter")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise _rejected(f"duplicate columns in the header: {', '.join(duplicates)}")
    for schema in schemas:
        if frozenset(names) == schema.header:
            return schema
    known = "; ".join(f"{s.name} v{s.version}: {','.join(c.name for c in s.columns)}" for s in schemas)
    header = characters.visible(",".join(names))
    difference = _difference(names, schemas)
    found = f"unknown header: {difference}; found {header}" if difference else f"unknown header {header}"
    raise _rejected(f"{found}; expected one of: {known}")


def _difference(names: list[str], schemas: Sequence[Schema[RowT]]) -> str:
    """The columns missing from, and unknown to, the schema closest to a header (none when no schema
    shares a column with it)."""
    given = frozenset(names)
    near = [s for s in schemas if s.header & given]
    if not near:
        return ""
    closest = min(near, key=lambda s: (len(s.header ^ given), len(s.header - given)))
    missing = [c.name for c in closest.columns if c.name not in given]
    unknown = [characters.visible(n) for n in names if n not in closest.header]
    found = "; ".join(_columns(what, listed) for what, listed in (("missing", missing), ("unknown", unknown)) if listed)
    return f"{found} (closest: {closest.name} v{closest.version})"


def _columns(what: str, names: Sequence[str]) -> str:
    return f"{what} column{'s' if len(names) > 1 else ''} {', '.join(names)}"


class _Reading(Generic[RowT]):
    """The rows read so far, and the first row of every key seen (for in-file repeats)."""

    def __init__(self, schema: Schema[RowT], names: list[str]) -> None:
        self.schema, self.names, self.columns = schema, names, schema.columns
        self.valid: list[Row[RowT]] = []
        self.invalid: list[Rejected] = []
        self.first_of: dict[tuple[object, ...], int] = {}

    @property
    def total(self) -> int:
        return len(self.valid) + len(self.invalid)

    def add(self, number: int, cells: list[str]) -> None:
        if len(cells) != len(self.names):
            message = f"expected {len(self.names)} fields, found {len(cells)}"
            raw = dict(zip(self.names, cells, strict=False))
            self.invalid.append(
                Rejected(number, raw, (RowError(number, "*", message, characters.visible(",".join(cells)[:200])),))
            )
            return
        raw = dict(zip(self.names, cells, strict=True))
        values, errors = self._values(number, raw)
        record = None if errors else self._record(number, raw, values, errors)
        if record is not None:
            self._check_key(number, raw, values, errors)
        if record is None or errors:
            self.invalid.append(Rejected(number, raw, tuple(errors)))
        else:
            self.valid.append(Row(number, raw, record))

    def _values(self, number: int, raw: Mapping[str, str]) -> tuple[dict[str, object], list[RowError]]:
        values: dict[str, object] = {}
        errors: list[RowError] = []
        for column in self.columns:
            try:
                values[column.name] = _cell(column, raw[column.name])
            except FieldInvalid as exc:
                errors.append(RowError(number, column.name, str(exc), _shown(raw[column.name])))
        return values, errors

    def _record(
        self, number: int, raw: Mapping[str, str], values: dict[str, object], errors: list[RowError]
    ) -> RowT | None:
        # Cells are parsed already: the model checks the rules across fields (lax, as values are typed).
        try:
            return self.schema.model.model_validate(values, strict=False)
        except ValidationError as exc:
            errors.extend(row_errors(number, raw, payloads.violations(exc)))
            return None

    def _check_key(
        self, number: int, raw: Mapping[str, str], values: dict[str, object], errors: list[RowError]
    ) -> None:
        key = self.schema.key
        if not key:
            return
        first = self.first_of.setdefault(tuple(values[name] for name in key), number)
        if first != number:
            columns = key[0] if len(key) == 1 else f"({', '.join(key)})"
            message = f"duplicate {columns} in this file (first at row {first})"
            errors.append(RowError(number, key[0], message, raw[key[0]].strip()[:200]))


def _cell(column: Column, text: str) -> object:
    """A cell's value (None when empty and optional) or FieldInvalid; controls are refused as written."""
    fault = characters.control_fault(text)
    if fault is not None:
        raise FieldInvalid(fault)
    value = text.strip()
    if value:
        return column.parse(value)
    if column.required:
        raise FieldInvalid("is required")
    return None


def _shown(text: str) -> str:
    """A refused cell as the error report shows it: trimmed, cut at 200 characters, controls escaped."""
    value = text.strip()[:200]
    return value if characters.control_fault(value) is None else characters.visible(value)


def row_errors(number: int, raw: Mapping[str, str], violations: Sequence[FieldViolation]) -> list[RowError]:
    """A row's errors from violations of its fields (one that names no field is reported under '*')."""
    return [RowError(number, v.field or "*", v.description, raw.get(v.field, "").strip()[:200]) for v in violations]


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
