"""Every service's privacy map names real columns of its own tables, and covers every table of the
service that stores an e-mail or a profile id (a new table holding people cannot be forgotten)."""

from __future__ import annotations

import importlib

import pytest
import sqlalchemy as sa

from services.kit.persistence.subjects import Child, SubjectMap

SERVICES = ("profile", "kintell", "buddy", "upskilling", "safety", "q2q")


def _map(service: str) -> SubjectMap:
    mapping: SubjectMap = importlib.import_module(f"services.{service}.privacy").MAP
    return mapping


def _children(children: tuple[Child, ...]) -> list[Child]:
    return [c for child in children for c in (child, *_children(child.children))]


@pytest.mark.parametrize("service", SERVICES)
def test_every_named_column_exists(service: str) -> None:
    mapping = _map(service)
    assert mapping.service == service
    for holding in mapping.holdings:
        assert holding.key in holding.table.c
        for person in holding.persons.values():
            assert all(c in holding.table.c for c in person.columns()), (holding.table.name, person)
        for child in _children(holding.children):
            assert child.column in child.table.c
            assert child.key in child.table.c
            assert child.by_column is None or child.by_column in child.table.c
    for scrub in mapping.scrubs:
        assert all(c in scrub.table.c for c in scrub.columns)


@pytest.mark.parametrize("service", SERVICES)
def test_every_table_naming_a_person_is_mapped(service: str) -> None:
    mapping = _map(service)
    tables: sa.MetaData = importlib.import_module(f"services.{service}.tables").metadata
    covered = {h.table.name for h in mapping.holdings}
    covered |= {c.table.name for h in mapping.holdings for c in _children(h.children)}
    for table in tables.sorted_tables:
        names_people = any(c.name.endswith(("email", "profile_id")) for c in table.c)
        if names_people:
            assert table.name in covered, f"{service}: {table.name} stores people but is not in its privacy map"
