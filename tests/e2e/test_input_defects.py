"""Input that black-box testing found accepted or misreported, refused through the real edge: control
characters in REST strings and CSV cells, CSV row numbers after quoted line breaks, a missing required
column, and tenant claims that are not a canonical tenant id."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from services.cli import spec
from services.cli.launcher import Mesh
from services.gateway import bootstrap as gateway_bootstrap
from services.gateway.domain.tokens import access_claims
from services.kit.clock import utc_now
from services.kit.persistence import db
from tests.e2e.conftest import auth
from tests.e2e.test_flows import KINTELL_HEADER, import_kintell

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    running = Mesh(resources=spec.with_free_ports(spec.load()), var_dir=tmp_path_factory.mktemp("input") / "var")
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def edge(mesh: Mesh) -> Iterator[httpx.Client]:
    tenant = f"in-{uuid.uuid4().hex[:10]}"
    with httpx.Client(base_url=mesh.edge_url, headers=auth(mesh.var_dir, tenant), timeout=120.0) as client:
        yield client


def _error_rows(edge: httpx.Client, batch_id: str) -> list[str]:
    errors = edge.get(f"/v1/kintell/imports/{batch_id}/errors")
    assert errors.status_code == 200, errors.text
    return errors.text.splitlines()[1:]


def test_a_nul_in_a_rest_string_is_refused_naming_the_field_and_nothing_is_stored(edge: httpx.Client) -> None:
    refused = edge.post("/v1/profiles", json={"email": "n\u0000ul@example.org"})
    assert refused.status_code == 400, refused.text
    body = refused.json()
    assert "email" in body["message"]
    assert "control character" in body["message"]
    assert edge.get("/v1/profiles").json().get("profiles", []) == []


def test_a_nul_in_a_csv_cell_quarantines_its_row_naming_the_column(edge: httpx.Client) -> None:
    batch = import_kintell(
        edge,
        [
            'k-1,ana@example.org,vic@example.org,2026-03-01,2026-03-01T11:00:00Z,60,0.9,"good\x00day",B1,',
            "k-2,ana@example.org,vic@example.org,2026-03-02,2026-03-02T11:00:00Z,60,0.9,fine,B1,",
        ],
    )
    assert (batch["rows_stored"], batch["rows_quarantined"]) == (1, 1)
    (row,) = _error_rows(edge, batch["batch_id"])
    assert row.startswith("2,feedback_text,"), row


def test_csv_error_rows_are_record_numbers_after_a_quoted_line_break(edge: httpx.Client) -> None:
    batch = import_kintell(
        edge,
        [
            'k-1,ana@example.org,vic@example.org,2026-03-01,,,,"first line\r\nsecond line\r\nthird",,',
            "k-2,not-an-email,vic@example.org,2026-03-02,,,,,,",
        ],
    )
    (row,) = _error_rows(edge, batch["batch_id"])
    assert row.startswith("3,participant_email,"), "the spreadsheet row: header 1, k-1 2, k-2 3"


def test_a_csv_missing_a_required_column_names_it(edge: httpx.Client) -> None:
    header = KINTELL_HEADER.replace("volunteer_email,", "")
    response = edge.post(
        "/v1/kintell/imports",
        content=f"{header}\r\nk-1,ana@example.org,2026-03-01,,,,,,\r\n".encode(),
        headers={"content-type": "text/csv"},
    )
    assert response.status_code == 400, response.text
    assert "volunteer_email" in response.json()["message"]


@pytest.mark.parametrize("company", [" ", "*", "%", "acme ", "ACME"])
def test_a_token_whose_tenant_is_not_canonical_is_refused(mesh: Mesh, company: str) -> None:
    gateway = gateway_bootstrap.open_gateway(db.sqlite_url(mesh.var_dir / "gateway.db"), mesh.var_dir)
    try:
        claims = access_claims(
            subject="e2e-odd",
            role="company_admin",
            company="acme",
            email=None,
            scopes=(),
            settings=gateway.settings,
            now=utc_now(),
        )
        token = gateway.keys.sign({**claims, "company": company})
    finally:
        gateway.engine.dispose()
    response = httpx.get(f"{mesh.edge_url}/v1/profiles", headers={"authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code == 401, response.text
