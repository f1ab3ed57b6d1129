"""CSV parsing shared by the connectors: schema by header, row errors, file-level rejection."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Self

import pytest
import sqlalchemy as sa
from pydantic import BaseModel, model_validator

from services.kit.connectors import cells, csvimport, imports, payloads
from services.kit.connectors.csvimport import Cell, CsvRejected, Schema
from services.kit.connectors.storage import profile_id_of
from services.kit.persistence import db
from services.kit.security import pii


class SampleRow(BaseModel):
    """A row of the sample schema, v1."""

    id: Annotated[str, Cell(cells.text(10))]
    email: Annotated[str, Cell(cells.email)]
    when: Annotated[datetime, Cell(cells.timestamp)]
    rating: Annotated[float | None, Cell(cells.number(0, 1))] = None
    note: Annotated[str | None, Cell(cells.text(20))] = None

    @model_validator(mode="after")
    def _no_rating_of_nothing(self) -> Self:
        if self.rating == 0 and not self.note:
            raise payloads.fault("a zero rating needs a note", field="note")
        return self


class SampleRowV2(SampleRow):
    """v2 adds a metadata object."""

    meta: Annotated[dict[str, object] | None, Cell(cells.json_object(50))] = None


V1 = Schema("sample", "1.0", SampleRow, key=("id",))
V2 = Schema("sample", "2.0", SampleRowV2, key=("id",))
HEADER = b"id,email,when,rating,note\n"


def _parse(data: bytes) -> csvimport.Parsed[SampleRow]:
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
    assert parsed.invalid == ()
    (row,) = parsed.valid
    assert row.record.note == "two\r\nlines"
    assert row.record.email == "x@y.org"
    assert row.record.when.isoformat() == "2026-01-02T10:00:00+00:00"


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
    assert parsed.valid == ()


def test_row_numbers_are_records_as_a_spreadsheet_shows_them_after_quoted_line_breaks() -> None:
    """A quoted multi-line cell is one spreadsheet row: later rows keep their record number (header = 1)."""
    data = HEADER + b'a,x@y.org,2026-01-01,,"two\nlines"\r\nb,bad,2026-01-01,,"three\n\nlines"\nc,worse,2026-01-01,,\n'
    parsed = _parse(data)
    assert [r.number for r in parsed.valid] == [2]
    assert [(e.row, e.field) for r in parsed.invalid for e in r.errors] == [(3, "email"), (4, "email")]


def test_a_blank_line_is_a_row_of_its_own_as_in_a_spreadsheet() -> None:
    parsed = _parse(HEADER + b"a,x@y.org,2026-01-01,,\n\nb,bad,2026-01-01,,\nc,x\n")
    assert [(e.row, e.field) for r in parsed.invalid for e in r.errors] == [(4, "email"), (5, "*")]
    assert parsed.total == 3


def test_a_short_row_after_a_quoted_line_break_names_its_record() -> None:
    parsed = _parse(HEADER + b'a,x@y.org,2026-01-01,,"x\ny"\nb,"1\n2"\n')
    assert [r.number for r in parsed.invalid] == [3]


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        (b"id,when,rating,note\n", "missing column email"),
        (b"id,rating,note\n", "missing columns email, when"),
        (b"id,rating,note,meta\n", "missing columns email, when"),
        (b"id,mail,when,rating,note\n", "missing column email; unknown column mail"),
        (b"id,email,when,rating,note,colour\n", "unknown column colour"),
    ],
)
def test_a_header_near_a_schema_names_its_missing_and_unknown_columns(header: bytes, missing: str) -> None:
    with pytest.raises(CsvRejected) as refused:
        _parse(header + b"a,b,c,d,e\n")
    assert missing in refused.value.message
    assert refused.value.violations[0].field == "body"
    assert missing in refused.value.violations[0].description


def test_the_missing_columns_are_those_of_the_closest_schema() -> None:
    with pytest.raises(CsvRejected, match=r"missing column note \(closest: sample v2\.0\)"):
        _parse(b"id,email,when,rating,meta\na,b,c,d,e\n")


@pytest.mark.parametrize("control", ["\x00", "\x07", "\x1b", "\x7f", "\x85"])
def test_a_control_character_in_any_cell_quarantines_the_row_naming_the_column(control: str) -> None:
    for column, line in (
        ("email", f"a,n{control}ul@y.org,2026-01-01,,\n"),
        ("note", f"a,x@y.org,2026-01-01,,fine{control}\n"),
        ("id", f"{control}a,x@y.org,2026-01-01,,\n"),
    ):
        parsed = _parse(HEADER + line.encode())
        assert parsed.valid == ()
        [error] = parsed.invalid[0].errors
        assert (error.row, error.field) == (2, column)
        assert error.message.startswith(f"must not contain control characters (U+{ord(control):04X}")
        assert control not in error.value


def test_tab_and_line_breaks_stay_allowed_in_free_text_cells() -> None:
    parsed = _parse(HEADER + b'a,x@y.org,2026-01-01,,"tab\there\r\nand"\n')
    assert parsed.invalid == ()
    assert parsed.valid[0].record.note == "tab\there\r\nand"


def test_a_single_line_cell_refuses_tab_and_line_breaks() -> None:
    with pytest.raises(cells.FieldInvalid, match="U\\+0009"):
        cells.line(10)("a\tb")
    with pytest.raises(cells.FieldInvalid, match="U\\+000A"):
        cells.line(10)("a\nb")
    assert cells.line(10)("a b") == "a b"


def test_a_control_character_escaped_inside_json_text_is_refused_once_decoded() -> None:
    """`\\u0000` in a JSON cell is six printable characters, but a NUL once decoded."""
    data = b'meta,id,email,when,rating,note\n"{""r\\u0000m"": 1}",a,x@y.org,2026-01-02,,\n'
    data += b'"{""room"": [""ok"", ""\\u001b""]}",b,x@y.org,2026-01-02,,\n'
    parsed = _parse(data)
    assert [(e.row, e.field, e.message) for r in parsed.invalid for e in r.errors] == [
        (2, "meta", "r\\u0000m its name must not contain control characters (U+0000 at character 2)"),
        (3, "meta", "room item 2 must not contain control characters (U+001B at character 1)"),
    ]


def test_json_text_keeps_tabs_and_line_breaks_in_its_strings() -> None:
    assert cells.json_object(50)('{"note": "a\\tb\\nc"}') == {"note": "a\tb\nc"}


def test_a_rule_across_fields_quarantines_its_row_under_the_field_it_names() -> None:
    parsed = _parse(HEADER + b"a,x@y.org,2026-01-01,0,\nb,x@y.org,2026-01-01,0,why\n")
    assert [r.number for r in parsed.valid] == [3]
    assert [(e.row, e.field, e.message) for r in parsed.invalid for e in r.errors] == [
        (2, "note", "a zero rating needs a note")
    ]


def test_a_repeat_of_a_key_of_several_columns_names_them_all() -> None:
    schema = Schema("sample", "1.0", SampleRow, key=("email", "when"))
    data = HEADER + b"a,x@y.org,2026-01-01,,\nb,X@y.org,2026-01-01T00:00:00Z,,\n"
    [repeat] = csvimport.parse(data, [schema]).invalid
    assert [(e.field, e.message) for e in repeat.errors] == [
        ("email", "duplicate (email, when) in this file (first at row 2)")
    ]


def test_quarantine_moves_named_rows_and_keeps_row_order() -> None:
    parsed = _parse(HEADER + b"a,x@y.org,2026-01-01,,\nb,bad,2026-01-01,,\nc,z@y.org,2026-01-01,,\n")
    moved = parsed.quarantine({2: [csvimport.RowError(2, "id", "taken", "a")]})
    assert ([r.number for r in moved.valid], [r.number for r in moved.invalid]) == ([4], [2, 3])
    assert moved.total == parsed.total == 3


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
    cipher = pii.local(tmp_path, "sample")
    pii.attach(engine, cipher)
    data = HEADER + b"a,x@y.org,2026-01-01,,\nb,bad,2026-01-01,,\n"
    parsed = _parse(data)
    uow = db.UnitOfWork(engine)
    with uow.begin() as session:
        batch = imports.SqlImportBatches(session, company_id="acme").record(
            kind="sample", parsed=parsed, data=data, stored=1
        )
    with uow.begin() as session:
        acme, globex = (imports.SqlImportBatches(session, company_id=c) for c in ("acme", "globex"))
        assert acme.get(batch.batch_id) == batch
        assert globex.get(batch.batch_id) is None
        assert [(e.row, e.field) for e in acme.errors(batch.batch_id)] == [(3, "email")]
        assert acme.newest(after=None, size=10) == [batch]
        assert globex.newest(after=None, size=10) == []
    assert (batch.status, batch.rows_total, batch.rows_stored, batch.rows_quarantined) == (
        imports.COMPLETED_WITH_ERRORS,
        2,
        1,
        1,
    )
    with engine.connect() as connection:  # the rejected row's cells and errors are sealed (company key: "bad")
        stored = connection.execute(sa.select(imports.quarantine)).mappings().one()
    assert (stored["company_id"], stored["profile_id"]) == ("acme", None)
    assert pii.is_sealed(stored["raw"])
    assert pii.is_sealed(stored["errors"])
    engine.dispose()
    cipher.close()


def test_a_quarantined_row_names_the_person_of_its_first_valid_e_mail_column() -> None:
    row = {"id": "a", "participant_email": "not-one", "note": "x@y.org", "volunteer_email": " V@Corp.com "}
    assert imports.subject_of("acme", row) == profile_id_of("acme", "v@corp.com")
    assert imports.subject_of("acme", {"email": "P@Example.org", "buddy_email": "b@y.org"}) == profile_id_of(
        "acme", "p@example.org"
    )
    assert imports.subject_of("acme", {"email": "", "attendee_emails": "a@y.org"}) is None


@pytest.mark.parametrize(
    "data",
    [
        HEADER + b'a,x@y.org,2026-01-01,,"unterminated\nb,\xff,2026-01-01,,\n',
        HEADER + b"a,x@y.org,2026-01-01,,\n" * 3000 + b"b,\xff,2026-01-01,,\n",
        b"\xff" + HEADER[1:],
    ],
    ids=["after-a-malformed-row", "past-the-first-chunks-read", "in-the-header"],
)
def test_a_file_that_is_not_utf8_is_refused_as_such_wherever_the_byte_is(data: bytes) -> None:
    """The file is decoded as it is read, yet an invalid byte is the reason given, before any other fault."""
    with pytest.raises(CsvRejected, match=r"not UTF-8 \(invalid byte at offset \d+\)") as refused:
        csvimport.parse(data, [V1], max_rows=100)
    assert f"offset {data.index(0xFF)}" in str(refused.value)


def test_a_file_read_in_chunks_keeps_characters_split_between_them_and_lone_cr_line_ends() -> None:
    """Multi-byte characters across the reader's chunk boundaries and old Mac line ends read as written."""
    rows = [b"%d,x@y.org,2026-01-01,,\xc3\xa9t\xc3\xa9 \xe2\x82\xac%d" % (i, i) for i in range(2000)]
    parsed = _parse(HEADER.replace(b"\n", b"\r") + b"\r".join(rows) + b"\r")
    assert [r.record.note for r in parsed.valid] == [f"été €{i}" for i in range(2000)]
    assert [r.number for r in parsed.valid] == list(range(2, 2002))
