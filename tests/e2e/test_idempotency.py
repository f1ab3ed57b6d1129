"""Idempotency-Key through the edge of the running mesh: REST repeats replay, a reused key answers 409."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from services.cli import spec
from services.cli.launcher import Mesh
from tests.e2e.conftest import auth

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """Its own mesh on free ports."""
    resources = spec.with_free_ports(spec.load())
    running = Mesh(resources=resources, var_dir=tmp_path_factory.mktemp("idem") / "var", health_interval_ms=200)
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def client(mesh: Mesh) -> Iterator[httpx.Client]:
    """A REST client of a fresh company, as its admin."""
    company = f"co-{uuid.uuid4().hex[:10]}"
    with httpx.Client(base_url=mesh.edge_url, headers=auth(mesh.var_dir, company), timeout=60.0) as client:
        yield client


def _reason(body: dict[str, object]) -> str | None:
    details = body.get("details", [])
    assert isinstance(details, list)
    return next((d.get("reason") for d in details if str(d.get("@type", "")).endswith("ErrorInfo")), None)


def test_a_post_repeated_with_its_key_gets_the_same_answer_once_executed(client: httpx.Client) -> None:
    key = {"idempotency-key": f"create-{uuid.uuid4()}"}
    first = client.post("/v1/profiles", json={"email": "ada@example.org"}, headers=key)
    second = client.post("/v1/profiles", json={"email": "ada@example.org"}, headers=key)
    assert (first.status_code, second.status_code) == (200, 200), second.text
    assert second.json() == first.json()
    assert "idempotent-replayed" not in first.headers
    assert second.headers.get("idempotent-replayed") == "true"
    # Without the key the same POST runs again, and the e-mail is taken by then.
    assert client.post("/v1/profiles", json={"email": "ada@example.org"}).status_code == 409


def test_the_same_key_with_another_body_is_409_idempotency_key_reused(client: httpx.Client) -> None:
    key = {"idempotency-key": f"create-{uuid.uuid4()}"}
    assert client.post("/v1/profiles", json={"email": "bea@example.org"}, headers=key).status_code == 200
    reused = client.post("/v1/profiles", json={"email": "cy@example.org"}, headers=key)
    assert reused.status_code == 409, reused.text
    assert reused.headers["content-type"].startswith("application/json")
    body = reused.json()
    assert _reason(body) == "IDEMPOTENCY_KEY_REUSED"
    assert "Idempotency-Key" in body["message"]
    listed = client.get("/v1/profiles", params={"email": "cy@example.org"}).json()
    assert listed.get("profiles", []) == []


def test_a_malformed_key_is_400_naming_the_header(client: httpx.Client) -> None:
    refused = client.post("/v1/profiles", json={"email": "dee@example.org"}, headers={"idempotency-key": "x" * 256})
    assert refused.status_code == 400, refused.text
    assert "Idempotency-Key" in refused.json()["message"]
