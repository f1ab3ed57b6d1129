"""What a person's export shows of a quarantined CSV row that names other people too (a session's
volunteer, a match's buddy): their own cells, every other person's cells and the error texts quoting them
withheld (GDPR Art. 15(4): a copy of one person's data must not carry another's).

The connectors' CSV schemas name a person's cells alike: an e-mail column (`email` or `<role>_email`) and,
with the same prefix, that person's `external_id`, `given_name` and `family_name`; a `<role>_emails` cell
lists several people's addresses. A group whose e-mail is not the subject's (by address or by the profile
id derived from it, as every service derives it) is another person's, a malformed address included.
"""

from __future__ import annotations

import json
import re
from typing import Any

from services.kit.connectors.storage import profile_id_of
from services.kit.identity import normalise_email
from services.kit.persistence.subjects import WITHHELD, Subject

# A person's cells in a CSV row, after the prefix their e-mail column names ("" or "<role>_").
PERSON_CELLS = ("email", "external_id", "given_name", "family_name")


def quarantined_row(row: dict[str, Any], subject: Subject) -> dict[str, Any]:
    """The opened quarantined row with the cells of every person but the subject withheld in `raw`, and
    every withheld value withheld in `errors` too (erased rows, "" when opened, stay as they are)."""
    cells = _cells(row.get("raw"))
    if not cells:
        return row
    withheld = _others_cells(cells, subject)
    values = {cells[c] for c in withheld if cells[c].strip()} | _others_listed(cells, subject)
    raw = {name: _cell(name, value, withheld, subject) for name, value in cells.items()}
    return row | {"raw": json.dumps(raw), "errors": _errors(row.get("errors"), withheld, values)}


def _others_cells(cells: dict[str, str], subject: Subject) -> set[str]:
    """The names of the cells that belong to a person other than the subject."""
    prefixes = [name.removesuffix("email") for name in cells if name == "email" or name.endswith("_email")]
    others = [p for p in prefixes if not _is_subject(cells[f"{p}email"], subject)]
    return {f"{p}{c}" for p in others for c in PERSON_CELLS if f"{p}{c}" in cells}


def _others_listed(cells: dict[str, str], subject: Subject) -> set[str]:
    """The addresses of other people inside `<role>_emails` cells."""
    listed = (item.strip() for name, value in cells.items() if name.endswith("_emails") for item in value.split(","))
    return {item for item in listed if item and not _is_subject(item, subject)}


def _cell(name: str, value: str, withheld: set[str], subject: Subject) -> str:
    if name in withheld:
        return WITHHELD
    if name.endswith("_emails"):
        items = (item.strip() for item in value.split(","))
        return ",".join(item if not item or _is_subject(item, subject) else WITHHELD for item in items)
    return value


def _is_subject(email: str, subject: Subject) -> bool:
    address = normalise_email(email)
    if not address:
        return False
    return address == subject.email or profile_id_of(subject.company_id, address) == subject.profile_id


def _errors(stored: Any, withheld: set[str], values: set[str]) -> Any:
    """The row's errors with the value of a withheld cell, and any withheld value quoted in a text, withheld."""
    try:
        errors = json.loads(stored) if isinstance(stored, str) and stored else None
    except ValueError:
        errors = None
    if not isinstance(errors, list):
        return stored
    return json.dumps([_error(e, withheld, values) if isinstance(e, dict) else e for e in errors])


def _error(error: dict[str, Any], withheld: set[str], values: set[str]) -> dict[str, Any]:
    out = {k: _redacted(v, values) if isinstance(v, str) else v for k, v in error.items()}
    return out | ({"value": WITHHELD} if error.get("field") in withheld else {})


def _redacted(text: str, values: set[str]) -> str:
    """The text with every occurrence of a withheld value (case-insensitive) replaced by `WITHHELD`."""
    if not values:
        return text
    longest_first = sorted(values, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, longest_first)), re.IGNORECASE).sub(WITHHELD, text)


def _cells(raw: Any) -> dict[str, str]:
    """A quarantined row's opened raw cells, by column ({} when erased or not a JSON object)."""
    try:
        parsed = json.loads(raw) if isinstance(raw, str) and raw else None
    except ValueError:
        return {}
    return {str(k): "" if v is None else str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}
