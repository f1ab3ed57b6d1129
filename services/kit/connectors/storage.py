"""How connectors store a person: a group of columns under a prefix, with the unified profile id
derived from (company, e-mail) stored next to the e-mail so records can be listed by profile
without a call to the profile service (the migrations that added those columns derive it the same way)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from services.kit.connectors.model import Person
from services.kit.identity import profile_id_for_email


def profile_id_of(company_id: str, email: str) -> str:
    """The unified profile id of the person with this e-mail in this company ('' without an e-mail)."""
    return profile_id_for_email(company_id, email) if email.strip() else ""


def person_columns(prefix: str, *, sealed: bool = False) -> list[sa.Column[Any]]:
    """The columns of one person of a record; `sealed` ones hold sealed values (services/kit/connectors/
    sealing.py), longer than the plain ones."""

    def text(length: int) -> sa.types.TypeEngine[str]:
        return sa.Text() if sealed else sa.String(length)

    return [
        sa.Column(f"{prefix}_email", text(255), nullable=False),
        sa.Column(f"{prefix}_profile_id", sa.String(36), nullable=False, server_default=""),
        sa.Column(f"{prefix}_external_id", text(255), nullable=False),
        sa.Column(f"{prefix}_given_name", text(200), nullable=False),
        sa.Column(f"{prefix}_family_name", text(200), nullable=False),
    ]


def person_row(prefix: str, person: Person, company_id: str) -> dict[str, str]:
    """A person's column values, with the profile id derived for this company."""
    return {
        f"{prefix}_email": person.email,
        f"{prefix}_profile_id": profile_id_of(company_id, person.email),
        f"{prefix}_external_id": person.external_id,
        f"{prefix}_given_name": person.given_name,
        f"{prefix}_family_name": person.family_name,
    }


def person_of(row: sa.RowMapping | Mapping[str, Any], prefix: str) -> Person:
    """The person stored under `prefix`."""
    return Person(
        email=row[f"{prefix}_email"],
        external_id=row[f"{prefix}_external_id"],
        given_name=row[f"{prefix}_given_name"],
        family_name=row[f"{prefix}_family_name"],
    )
