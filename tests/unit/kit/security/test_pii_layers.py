"""A value naming several people sealed with each one's key in turn: it opens only while every key is
kept, and a value sealed once (with one key) opens the same way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.kit.connectors import imports
from services.kit.connectors.storage import profile_id_of
from services.kit.security import pii

FIELD, RECORD = "quarantined_rows.raw", "batch-1"
ROW = '{"participant_email": "p@example.org", "volunteer_email": "v@corp.com"}'


@pytest.fixture
def cipher(tmp_path: Path) -> Iterator[pii.PiiCipher]:
    made = pii.local(tmp_path, "svc")
    yield made
    made.close()


def _layered(cipher: pii.PiiCipher, subjects: list[str]) -> str:
    return cipher.seal_layered(ROW, company_id="acme", subjects=subjects, field=FIELD, record=RECORD)


def test_a_value_of_two_people_opens_with_both_keys(cipher: pii.PiiCipher) -> None:
    sealed = _layered(cipher, ["p-1", "p-2"])
    assert pii.is_sealed(sealed)
    assert pii.is_sealed(cipher.open(sealed, field=FIELD, record=RECORD))  # one layer opened: another inside
    assert cipher.open_layered(sealed, field=FIELD, record=RECORD) == ROW


@pytest.mark.parametrize("erased", ["p-1", "p-2"])
def test_erasing_either_person_leaves_the_value_unreadable(cipher: pii.PiiCipher, erased: str) -> None:
    sealed = _layered(cipher, ["p-1", "p-2"])
    cipher.shred("acme", erased)
    with pytest.raises(pii.SubjectErased):
        cipher.open_layered(sealed, field=FIELD, record=RECORD)


def test_a_value_sealed_once_and_a_plain_one_open_as_before(cipher: pii.PiiCipher) -> None:
    once = cipher.seal(ROW, company_id="acme", subject="p-1", field=FIELD, record=RECORD)
    assert cipher.open_layered(once, field=FIELD, record=RECORD) == ROW
    assert cipher.open_layered(ROW, field=FIELD, record=RECORD) == ROW
    assert _layered(cipher, ["p-1"]).count(".") == once.count(".")  # one person: one layer, the old format


def test_a_layer_moved_onto_another_record_does_not_open(cipher: pii.PiiCipher) -> None:
    sealed = _layered(cipher, ["p-1", "p-2"])
    with pytest.raises(pii.FieldTampered):
        cipher.open_layered(sealed, field=FIELD, record="batch-2")


def test_a_quarantined_row_names_every_person_of_its_valid_e_mail_columns_once_in_order() -> None:
    row = {"participant_email": "P@Example.org", "note": "x@y.org", "volunteer_email": "bad", "buddy_email": "b@y.org"}
    people = [profile_id_of("acme", "p@example.org"), profile_id_of("acme", "b@y.org")]
    assert imports.subjects_of("acme", row) == people
    assert imports.subjects_of("acme", {"email": "b@y.org", "other_email": "B@y.org"}) == people[1:]
    assert imports.subjects_of("acme", {"email": "", "attendee_emails": "a@y.org"}) == []
