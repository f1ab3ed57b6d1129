"""The ER diagrams under docs/data/er are generated from the services' metadata and kept current."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.cli import erd


@pytest.mark.parametrize("service", erd.SERVICES)
def test_each_service_diagram_names_every_table_and_foreign_key(service: str) -> None:
    tables = erd.schema_of(service)
    text = erd.diagram(service, tables)
    assert text.count(" {\n") == len(tables)
    for table in tables:
        assert f"    {table.name} {{" in text
        for key in table.foreign_keys:
            assert f'{key.column.table.name} ||--o{{ {table.name} : "{key.parent.name}"' in text


def test_the_overview_links_profile_ids_across_services() -> None:
    text = erd.overview({service: erd.schema_of(service) for service in erd.SERVICES})
    assert 'person ||--o{ kintell__kintell_sessions : "participant_profile_id"' in text
    assert 'company ||--o{ profile__profiles : "company_id"' in text


def test_the_committed_diagrams_are_current(tmp_path: Path) -> None:
    for path in erd.write(tmp_path):
        assert path.read_text() == (erd.OUT / path.name).read_text(), f"run make gen: {path.name} is stale"
