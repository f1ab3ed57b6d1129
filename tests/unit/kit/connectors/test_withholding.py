"""A quarantined CSV row in one person's export: the cells of every other person it names, and the error
texts quoting them, are withheld; a row naming the subject twice keeps both sides."""

from __future__ import annotations

import json
from typing import Any

from services.kit.connectors.withholding import quarantined_row
from services.kit.persistence.subjects import WITHHELD, Subject

PIA, VOL = "pia@example.org", "vol@corp.com"
CELLS = {
    "session_id": "k-9",
    "participant_email": "Pia@Example.org",
    "participant_given_name": "Pialotta",
    "volunteer_email": VOL,
    "volunteer_external_id": "kin-v-3",
    "volunteer_given_name": "Valdemar",
    "rating": "lots",
}
ERRORS = [
    {"row": 2, "field": "rating", "message": "is not a number", "value": "lots"},
    {"row": 2, "field": "volunteer_external_id", "message": "kin-v-3 is unknown", "value": "kin-v-3"},
    {"row": 2, "field": "session_id", "message": "clashes with Valdemar's booking", "value": "k-9"},
]


def _row(cells: dict[str, str], errors: list[dict[str, Any]] = ERRORS) -> dict[str, Any]:
    return {"batch_id": "b-1", "row_number": 2, "raw": json.dumps(cells), "errors": json.dumps(errors)}


def _exported(row: dict[str, Any], email: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    out = quarantined_row(row, Subject.of("acme", email=email))
    return json.loads(out["raw"]), json.loads(out["errors"])


def test_the_participants_copy_withholds_the_volunteers_cells_and_the_errors_quoting_them() -> None:
    raw, errors = _exported(_row(CELLS), PIA)
    assert raw == CELLS | dict.fromkeys(("volunteer_email", "volunteer_external_id", "volunteer_given_name"), WITHHELD)
    assert errors[0] == ERRORS[0]
    assert errors[1] == {"row": 2, "field": "volunteer_external_id", "message": f"{WITHHELD} is unknown"} | {
        "value": WITHHELD
    }
    assert errors[2]["message"] == f"clashes with {WITHHELD}'s booking"


def test_the_volunteers_copy_withholds_the_participants_cells() -> None:
    raw, errors = _exported(_row(CELLS), VOL)
    assert raw == CELLS | dict.fromkeys(("participant_email", "participant_given_name"), WITHHELD)
    assert "pialotta" not in json.dumps(errors).lower()
    assert errors[1]["value"] == "kin-v-3"


def test_a_row_naming_the_subject_twice_keeps_both_sides() -> None:
    twice = CELLS | {"volunteer_email": "PIA@example.org"}
    raw, errors = _exported(_row(twice), PIA)
    assert (raw, errors) == (twice, ERRORS)


def test_a_malformed_address_of_another_person_is_withheld_and_a_list_keeps_only_the_subject() -> None:
    cells = {"participant_email": PIA, "buddy_email": "bob-at-nowhere", "attendee_emails": f"{VOL}, {PIA}"}
    error = {"row": 3, "field": "buddy_email", "message": "is not a valid e-mail address", "value": "bob-at-nowhere"}
    raw, errors = _exported(_row(cells, [error]), PIA)
    assert raw == {"participant_email": PIA, "buddy_email": WITHHELD, "attendee_emails": f"{WITHHELD},{PIA}"}
    assert errors == [error | {"value": WITHHELD}]


def test_an_erased_row_stays_empty() -> None:
    erased = {"batch_id": "b-1", "row_number": 2, "raw": "", "errors": ""}
    assert quarantined_row(erased, Subject.of("acme", email=PIA)) == erased
