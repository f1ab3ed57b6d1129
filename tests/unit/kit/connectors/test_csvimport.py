"""CSV parsing shared by the connectors: schema by header, row errors, file-level rejection."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.kit.connectors import csvimport, imports
from services.kit.connectors.csvimport import Column, CsvRejected, Schema
from services.kit.persistence import db

V1 = Schema(
    "sample",
    "1.0",
    (
        Column("id", csvimport.text(10)),
        Column("email", csvimport.email),
        Column("when", csvimport.timestamp),
        Column("rating", csvimport.number(0, 1), required=False),
        Column("note", csvimport.text(20), required=False),
    ),
    key="id",
)
V2 = Schema("sample", "2.0", (*V1.columns, Column("meta", csvimport.json_object(50), required=False)), key="id")
HEADER = b"id,email,when,rating,note\n"


def _parse(data: bytes) -> csvimport.Parsed:
    return csvimport.parse(data, [V1, V2])


def test_schema_and_version_come_from_the_header() -> None:
    assert _parse(HEADER + b"a,x@y.org,2026-01-02,0.5,hi\n").schema is V1
    assert _parse(b"meta,id,email,when,rating,note\n{},a,x@y.org,2026-01-02,,\n").schema is V2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (HEADER, "no rows"),
        (b"foo,bar\n1,2\n", "unknown header"),
        (b"id;email;when;rating;note\n1;x@y.org;2026-01-01;;\n", "delimiter"),
        (b"id,email,when,rating,note\nb,\xff\xfe,2026-01-01,,\n", "not UTF-8"),
        (b"id,id,email,when,rating,note\n", "duplicate columns"),
        (HEADER + b'a,x@y.org,2026-01-01,,"unterminated\n', "malformed"),
    ],
)
def test_file_level_faults_reject_the_whole_file(data: bytes, message: str) -> None:
    with pytest.raises(CsvRejected, match=message):
        _parse(data)


def test_oversized_files_are_rejected() -> None:
    with pytest.raises(CsvRejected, match="larger"):
        csvimport.parse(HEADER + b"a,x@y.org,2026-01-01,,\n" * 10, [V1], max_bytes=100)
    with pytest.raises(CsvRejected, match="more than 2 rows"):
        csvimport.parse(HEADER + b"".join(b"%d,x@y.org,2026-01-01,,\n" % i for i in range(3)), [V1], max_rows=2)


def test_bom_crlf_and_quoted_newlines_are_read_as_written() -> None:
    parsed = _parse(b'\xef\xbb\xbfid,email,when,rating,note\r\na,X@Y.org,2026-01-02T10:00:00Z,1,"two\r\nlines"\r\n')
    assert parsed.invalid == []
    (row,) = parsed.valid
    assert row.values["note"] == "two\r\nlines"
    assert row.values["email"] == "x@y.org"
    assert row.values["when"].isoformat() == "2026-01-02T10:00:00+00:00"


def test_row_errors_name_row_field_message_and_value() -> None:
    data = HEADER + b"a,not-mail,2026-01-02,1.5,x\nb,ok@y.org,yesterday,,this note is far too long\nc,ok@y.org\n"
    parsed = _parse(data)
    errors = [(e.row, e.field, e.value) for r in parsed.invalid for e in r.errors]
    assert errors == [
        (2, "email", "not-mail"),
        (2, "rating", "1.5"),
        (3, "when", "yesterday"),
        (3, "note", "this note is far too long"),
        (4, "*", "c,ok@y.org"),
    ]
    assert parsed.valid == []


def test_duplicate_keys_in_one_file_are_quarantined() -> None:
    parsed = _parse(HEADER + b"a,x@y.org,2026-01-01,,\na,z@y.org,2026-01-01,,\n")
    assert [r.number for r in parsed.valid] == [2]
    assert parsed.invalid[0].errors[0].message == "duplicate id in this file (first at row 2)"


def test_error_csv_neutralises_formulas() -> None:
    report = csvimport.error_csv([csvimport.RowError(2, "note", "bad", "=HYPERLINK(1)")])
    assert report == b"row,field,message,value\r\n2,note,bad,'=HYPERLINK(1)\r\n"


def test_batches_and_quarantine_are_persisted_per_company(tmp_path: Path) -> None:
    engine = db.create_engine(db.sqlite_url(tmp_path / "c.db"))
    imports.metadata.create_all(engine)
    data = HEADER + b"a,x@y.org,2026-01-01,,\nb,bad,2026-01-01,,\n"
    parsed = _parse(data)
    uow = db.UnitOfWork(engine)
    with uow.begin() as session:
        batch = imports.record_batch(session, company_id="acme", kind="sample", parsed=parsed, data=data, stored=1)
    with uow.begin() as session:
        assert imports.get_batch(session, company_id="acme", batch_id=batch.batch_id) == batch
        assert imports.get_batch(session, company_id="globex", batch_id=batch.batch_id) is None
        assert [(e.row, e.field) for e in imports.row_errors(session, batch_id=batch.batch_id)] == [(3, "email")]
    assert (batch.status, batch.rows_total, batch.rows_stored, batch.rows_quarantined) == (
        imports.COMPLETED_WITH_ERRORS,
        2,
        1,
        1,
    )
    engine.dispose()
