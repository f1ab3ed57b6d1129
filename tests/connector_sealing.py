"""The quarantined-row sealing checks every connector's unit tests share (kintell, buddy, upskilling): each
connector's sample refuses three rows of company "acme", one naming Quinby, one naming nobody and one
naming Rosalind; its `test_sealing.py` names what differs in a `Quarantine` and inherits the tests
(`QuarantinedRows`, `TwoPeople`).

The checks: a refused row is sealed with the key of every person it names and its errors still list;
erasing any of those people erases it (in the live database and in a copy taken before); the downgrade
refuses while a row is sealed; rows from before sealing (and rows sealed with one key only) still open.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa

from services.kit.connectors.imports import QUARANTINE, SqlImportBatches, quarantine
from services.kit.connectors.storage import profile_id_of
from services.kit.persistence import db, subjects
from services.kit.security import pii

QUINBY, ROSALIND = "quinby@example.org", "rosalind@example.org"
COMPANY = "acme"
# An error as listed: (row number, field, refused value).
Listed = tuple[int, str, str]


@dataclass(frozen=True)
class Quarantine:
    """What one connector's sample refuses and how it is loaded."""

    # The service's privacy map (what export and erasure find).
    privacy: subjects.SubjectMap
    # Loads the sample through the service's handlers (the unit of work).
    load: Callable[[Any], None]
    # Every error of the batch, in row order (Quinby's row first, then nobody's, then Rosalind's).
    errors: Sequence[Listed]
    # Words Quinby's raw cells hold.
    quinby: str
    # The service's revisions, the one below sealing quarantined rows, and what its downgrade says then.
    downgrade: tuple[Path, str, str]
    # The e-mail of the other person Quinby's and Rosalind's rows name (`TwoPeople`).
    second: str = ""

    @property
    def rows(self) -> tuple[int, int, int]:
        """The refused rows by their number: Quinby's, nobody's, Rosalind's."""
        quinby, nobody, rosalind = sorted({row for row, _, _ in self.errors})
        return quinby, nobody, rosalind


class QuarantinedRows:
    """The tests every connector's quarantined rows pass: a test class of its module inherits them and
    names its sample (`case`); the `engine`, `uow` and `cipher` fixtures are the service's."""

    case: ClassVar[Quarantine]

    def test_a_rejected_row_is_sealed_with_every_named_persons_key_and_its_errors_still_list(
        self, engine: sa.Engine, uow: Any, cipher: pii.PiiCipher
    ) -> None:
        self.case.load(uow)
        check_sealed_and_listed(self.case, engine, cipher)

    def test_erasing_a_person_shreds_their_quarantined_row_in_a_copy_taken_before(
        self, engine: sa.Engine, uow: Any, cipher: pii.PiiCipher, tmp_path: Path
    ) -> None:
        self.case.load(uow)
        check_erasure_shreds_a_copy(self.case, engine, cipher, tmp_path)

    def test_a_rejected_row_sealed_with_one_key_still_opens(
        self, engine: sa.Engine, uow: Any, cipher: pii.PiiCipher
    ) -> None:
        self.case.load(uow)
        check_a_row_sealed_with_one_key_still_opens(self.case, engine, cipher)

    def test_the_downgrade_refuses_while_a_quarantined_row_is_sealed(self, engine: sa.Engine, uow: Any) -> None:
        self.case.load(uow)
        check_the_downgrade_refuses(engine, *self.case.downgrade)


class TwoPeople:
    """The test of a connector whose refused rows name two people (`Quarantine.second`)."""

    case: ClassVar[Quarantine]

    def test_erasing_the_second_person_a_rejected_row_names_erases_the_row(
        self, engine: sa.Engine, uow: Any, cipher: pii.PiiCipher, tmp_path: Path
    ) -> None:
        self.case.load(uow)
        check_erasing_the_second_person_erases_the_row(self.case, engine, cipher, tmp_path)

    def test_a_rejected_row_naming_two_people_exports_only_the_subjects_cells(
        self, engine: sa.Engine, uow: Any
    ) -> None:
        self.case.load(uow)
        check_each_export_holds_only_its_persons_cells(self.case, engine)


def batch_id(engine: sa.Engine) -> str:
    """The one batch holding quarantined rows."""
    with engine.connect() as connection:
        return str(connection.execute(sa.select(quarantine.c.batch_id).distinct()).scalar_one())


def quarantined(engine: sa.Engine) -> dict[int, sa.RowMapping]:
    """The quarantined rows as stored, by row number."""
    with engine.connect() as connection:
        return {r["row_number"]: r for r in connection.execute(sa.select(quarantine)).mappings()}


def opened(cipher: pii.PiiCipher, row: sa.RowMapping, column: str = "raw") -> str:
    """A stored quarantined row's column opened with every key that seals it (SubjectErased if one is gone)."""
    return cipher.open_layered(row[column], field=f"quarantined_rows.{column}", record=row["batch_id"])


def listed(engine: sa.Engine, batch: str) -> list[Listed]:
    """The batch's errors, as the service's error CSV lists them."""
    with db.UnitOfWork(engine).begin() as session:
        found = SqlImportBatches(session, company_id=COMPANY).errors(batch)
    return [(e.row, e.field, e.value) for e in found]


def copy(engine: sa.Engine, path: Path) -> None:
    """A copy of the live database file (a backup taken now)."""
    with sqlite3.connect(str(engine.url.database)) as live, sqlite3.connect(path) as backup:
        live.backup(backup)


def stored_in(path: Path) -> dict[int, sa.RowMapping]:
    """The quarantined rows of a database copy."""
    restored = db.create_engine(db.sqlite_url(path))
    try:
        return quarantined(restored)
    finally:
        restored.dispose()


def export(case: Quarantine, engine: sa.Engine, email: str) -> list[dict[str, Any]]:
    """The quarantined rows a person's export holds."""
    with db.UnitOfWork(engine).begin() as session:
        found = subjects.export(session, case.privacy, subjects.Subject.of(COMPANY, email=email))
    return found.get("quarantined_rows", [])


def erase(case: Quarantine, engine: sa.Engine, email: str) -> subjects.Erasure:
    """Erases a person of the sample's company."""
    with db.UnitOfWork(engine).begin() as session:
        return subjects.erase(session, case.privacy, subjects.Subject.of(COMPANY, email=email))


def check_sealed_and_listed(case: Quarantine, engine: sa.Engine, cipher: pii.PiiCipher) -> None:
    """A refused row is sealed with the key of every person it names (the first in `profile_id`), the
    company's key when it names nobody; its errors list and its person's export shows it plain."""
    quinby, nobody, rosalind = case.rows
    assert listed(engine, batch_id(engine)) == list(case.errors)
    rows = quarantined(engine)
    assert {n: r["profile_id"] for n, r in rows.items()} == {
        quinby: profile_id_of(COMPANY, QUINBY),
        nobody: None,  # no valid e-mail: the company's key
        rosalind: profile_id_of(COMPANY, ROSALIND),
    }
    assert {r["company_id"] for r in rows.values()} == {COMPANY}
    assert all(pii.is_sealed(r["raw"]) and pii.is_sealed(r["errors"]) for r in rows.values())
    assert case.quinby in opened(cipher, rows[quinby])
    [row] = export(case, engine, QUINBY)
    assert "Quinby@Example.org" in row["raw"].values()
    assert row["errors"][0]["value"] == case.errors[0][2]


def check_erasure_shreds_a_copy(case: Quarantine, engine: sa.Engine, cipher: pii.PiiCipher, tmp_path: Path) -> None:
    """Erasing Quinby deletes their row and leaves it unreadable in a copy taken before; the other rows
    still list and open."""
    quinby, nobody, rosalind = case.rows
    batch = batch_id(engine)
    backup = tmp_path / "before-erasure.db"
    copy(engine, backup)
    assert erase(case, engine, QUINBY).tables["quarantined_rows"] == 1
    assert listed(engine, batch) == [e for e in case.errors if e[0] != quinby]  # the others' errors list on
    before = stored_in(backup)
    for column in ("raw", "errors"):
        with pytest.raises(pii.SubjectErased):
            opened(cipher, before[quinby], column)
    assert ROSALIND in opened(cipher, before[rosalind])  # another person's row still opens
    assert "zebedee-at-nowhere" in opened(cipher, before[nobody])  # a row naming nobody: retention removes it


def check_erasing_the_second_person_erases_the_row(
    case: Quarantine, engine: sa.Engine, cipher: pii.PiiCipher, tmp_path: Path
) -> None:
    """A row naming two people opens only with both keys: erasing the second (whom `profile_id` does not
    name) leaves it unreadable, in the live database and in a copy taken before; the first person's export
    still works and shows it emptied, and the batch lists the errors of the rows that still open."""
    quinby, nobody, rosalind = case.rows
    batch = batch_id(engine)
    rows = quarantined(engine)
    assert QUINBY in opened(cipher, rows[quinby]).lower()
    assert case.second in opened(cipher, rows[quinby]).lower()
    backup = tmp_path / "before-erasure.db"
    copy(engine, backup)
    erase(case, engine, case.second)
    for stored in (quarantined(engine), stored_in(backup)):
        for row, column in ((r, c) for r in (quinby, rosalind) for c in ("raw", "errors")):
            with pytest.raises(pii.SubjectErased):
                opened(cipher, stored[row], column)
        assert "zebedee-at-nowhere" in opened(cipher, stored[nobody])
    assert listed(engine, batch) == [e for e in case.errors if e[0] == nobody]
    [emptied] = export(case, engine, QUINBY)
    assert (emptied["row_number"], emptied["raw"], emptied["errors"]) == (quinby, "", "")


def check_each_export_holds_only_its_persons_cells(case: Quarantine, engine: sa.Engine) -> None:
    """Quinby's export of the row naming them and a second person holds Quinby's cells and the second
    person's withheld (nowhere in the row, errors included); the second person's export (the row is found
    by its first person) holds nothing of Quinby's rows."""
    [row] = export(case, engine, QUINBY)
    assert "Quinby@Example.org" in row["raw"].values()
    second = [name for name, value in row["raw"].items() if name.endswith("_email") and value == subjects.WITHHELD]
    assert second != []
    assert case.second not in json.dumps(row).lower()
    assert [r for r in export(case, engine, case.second) if QUINBY in json.dumps(r).lower()] == []


def check_a_row_sealed_with_one_key_still_opens(case: Quarantine, engine: sa.Engine, cipher: pii.PiiCipher) -> None:
    """A row stored sealed with its first person's key only (the format before every person's key) still
    lists its errors, exports and unseals."""
    quinby = case.rows[0]
    batch = batch_id(engine)
    row = quarantined(engine)[quinby]
    plain = {c: opened(cipher, row, c) for c in ("raw", "errors")}
    once = {
        c: cipher.seal(v, company_id=COMPANY, subject=row["profile_id"], field=f"quarantined_rows.{c}", record=batch)
        for c, v in plain.items()
    }
    with engine.begin() as connection:
        this = sa.and_(quarantine.c.batch_id == batch, quarantine.c.row_number == quinby)
        connection.execute(quarantine.update().where(this).values(**once))
    assert cipher.open(quarantined(engine)[quinby]["raw"], field="quarantined_rows.raw", record=batch) == plain["raw"]
    assert listed(engine, batch) == list(case.errors)
    [exported] = export(case, engine, QUINBY)
    cells = json.loads(plain["raw"])
    # The second person's cells, if any, are withheld (`check_each_export_holds_only_its_persons_cells`).
    kept = {k: v for k, v in exported["raw"].items() if v != subjects.WITHHELD}
    assert (set(exported["raw"]), kept) == (set(cells), {k: cells[k] for k in kept})
    assert "Quinby@Example.org" in kept.values()
    with db.UnitOfWork(engine).begin() as session:
        while QUARANTINE.unseal_batch(session, cipher):
            pass
    assert quarantined(engine)[quinby]["raw"] == plain["raw"]


def check_the_downgrade_refuses(engine: sa.Engine, migrations: Path, revision: str, message: str) -> None:
    """The downgrade below sealing refuses while a quarantined row is sealed, and leaves the columns."""
    with pytest.raises(RuntimeError, match=message):
        db.downgrade(str(engine.url), migrations, revision)
    with engine.connect() as connection:
        columns = {c["name"] for c in sa.inspect(connection).get_columns("quarantined_rows")}
    assert {"company_id", "profile_id"} <= columns


def unsealed(engine: sa.Engine, cipher: pii.PiiCipher, unseal_batch: Callable[..., int]) -> None:
    """Every row written back as the service wrote it before sealing (its `unseal_batch` until none is left)."""
    with db.UnitOfWork(engine).begin() as session:
        while unseal_batch(session, cipher):
            pass


def made_old(case: Quarantine, engine: sa.Engine) -> dict[int, sa.RowMapping]:
    """The (unsealed) quarantined rows made as the revision adding sealing leaves an old row: no company,
    no person; they still list. The rows as they are then."""
    with engine.begin() as connection:
        connection.execute(quarantine.update().values(company_id="", profile_id=None))
    old = quarantined(engine)
    assert QUINBY in old[case.rows[0]]["raw"].lower()
    assert listed(engine, batch_id(engine)) == list(case.errors)  # dual read: plain rows before sealing
    return old


def check_sealed_as_before(
    case: Quarantine, engine: sa.Engine, cipher: pii.PiiCipher, old: dict[int, sa.RowMapping]
) -> None:
    """After the online migration the old rows have their company and first person, are sealed, open to
    what they held and list their errors; unsealing writes them back as they were."""
    assert listed(engine, batch_id(engine)) == list(case.errors)
    rows = quarantined(engine)
    assert [(r["company_id"], r["profile_id"]) for _, r in sorted(rows.items())] == [
        (COMPANY, profile_id_of(COMPANY, QUINBY)),
        (COMPANY, None),
        (COMPANY, profile_id_of(COMPANY, ROSALIND)),
    ]
    assert all(pii.is_sealed(r["raw"]) and pii.is_sealed(r["errors"]) for r in rows.values())
    assert [opened(cipher, rows[n]) for n in sorted(rows)] == [old[n]["raw"] for n in sorted(old)]
    with db.UnitOfWork(engine).begin() as session:
        assert QUARANTINE.unseal_batch(session, cipher) == 3
    assert [r["raw"] for _, r in sorted(quarantined(engine).items())] == [old[n]["raw"] for n in sorted(old)]
