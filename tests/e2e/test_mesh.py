"""The whole mesh through `teei up`: readiness, health and reflection of all seven services, and the
profile slice through the Envoy edge (REST and native gRPC), including its error contract."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from services.cli import spec
from services.kit.security import mtls
from teei.profile.v1 import profile_pb2, profile_pb2_grpc
from tests.e2e.conftest import MeshProcess, start_mesh

pytestmark = pytest.mark.e2e
SERVICES = {r.name: r.grpc_services[0] for r in spec.load() if r.kind == "grpc"}


def _create(client: httpx.Client, email: str) -> dict[str, str]:
    response = client.post("/v1/profiles", json={"email": email, "given_name": "Ada"})
    assert response.status_code == 200, response.text
    profile: dict[str, str] = response.json()["profile"]
    return profile


@pytest.fixture
def client(mesh: MeshProcess) -> Iterator[httpx.Client]:
    """A client of the edge authenticated as an admin of company `acme`."""
    with httpx.Client(base_url=mesh.edge_url, headers=mesh.auth("acme"), timeout=10.0) as edge:
        yield edge


def test_readiness_names_all_seven_services(client: httpx.Client) -> None:
    response = client.get("/health/readiness")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["services"] == dict.fromkeys(SERVICES, "SERVING")
    assert client.get("/health/liveness").status_code == 200


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_each_service_is_serving_and_lists_itself_by_reflection(mesh: MeshProcess, name: str) -> None:
    credentials = mtls.channel_credentials(mesh.var_dir / "mtls", "edge")
    with grpc.secure_channel(f"127.0.0.1:{mesh.ports[name]}", credentials) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=SERVICES[name]))
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        listed = {s.name for reply in replies for s in reply.list_services_response.service}
    assert SERVICES[name] in listed


def test_profile_created_over_rest_is_returned_over_rest_and_grpc(mesh: MeshProcess, client: httpx.Client) -> None:
    created = _create(client, f"ada-{uuid.uuid4().hex[:8]}@Example.org")
    assert created["email"].endswith("@example.org")
    fetched = client.get(f"/v1/profiles/{created['profile_id']}")
    assert fetched.status_code == 200
    assert fetched.json()["profile"] == created
    with grpc.insecure_channel(mesh.edge_url.removeprefix("http://")) as channel:
        stub = profile_pb2_grpc.ProfileServiceStub(channel)
        reply = stub.GetProfile(
            profile_pb2.GetProfileRequest(profile_id=created["profile_id"]), metadata=tuple(mesh.auth("acme").items())
        )
    assert reply.profile.email == created["email"]


def test_unknown_profile_is_404_with_code_and_message(client: httpx.Client) -> None:
    response = client.get(f"/v1/profiles/{uuid.uuid4()}")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == 5
    assert body["message"] == "profile not found"
    assert body["details"][0]["reason"] == "PROFILE_NOT_FOUND"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/profiles/not-a-uuid", None),
        ("POST", "/v1/profiles", {"email": "not-an-email"}),
        ("POST", "/v1/profiles", {"email": "x@example.org", "given_name": "x" * 300}),
    ],
)
def test_invalid_arguments_are_400_with_json_status(
    client: httpx.Client, method: str, path: str, body: dict[str, str] | None
) -> None:
    response = client.request(method, path, json=body)
    assert response.status_code == 400
    assert response.json()["code"] == 3


@pytest.mark.parametrize(
    "raw", [b"{not json", b'{"email": 5, "unknown_field": true}', b'{"email": "x@example.org", "role": "KING"}']
)
def test_malformed_json_bodies_are_400(client: httpx.Client, raw: bytes) -> None:
    response = client.post("/v1/profiles", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400


def test_unknown_route_is_404_json(client: httpx.Client) -> None:
    response = client.get("/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["code"] == 5


def test_unknown_query_parameter_is_400_never_5xx(client: httpx.Client) -> None:
    created = _create(client, f"q-{uuid.uuid4().hex[:8]}@example.org")
    response = client.get(f"/v1/profiles/{created['profile_id']}", params={"debug": "1"})
    assert response.status_code == 400


def test_missing_token_is_401_and_another_tenant_sees_404(mesh: MeshProcess, client: httpx.Client) -> None:
    created = _create(client, f"t-{uuid.uuid4().hex[:8]}@example.org")
    path = f"/v1/profiles/{created['profile_id']}"
    assert httpx.get(f"{mesh.edge_url}{path}", timeout=10.0).status_code == 401
    forged = httpx.get(f"{mesh.edge_url}{path}", headers={"x-tenant-id": "acme"}, timeout=10.0)
    assert forged.status_code == 401
    other = client.get(path, headers=mesh.auth("globex"))
    assert other.status_code == 404


def test_profile_survives_a_mesh_restart_and_the_launcher_stops_cleanly(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    first = start_mesh(var_dir)
    try:
        headers = first.auth("acme")  # minted before the restart: still valid after it
        with httpx.Client(base_url=first.edge_url, headers=headers, timeout=10.0) as client:
            created = _create(client, "kept@example.org")
    finally:
        assert first.stop() == 0
    first.output.wait_for_text("teei up: stopped", timeout=5)
    second = start_mesh(var_dir)
    try:
        with httpx.Client(base_url=second.edge_url, headers=headers, timeout=10.0) as client:
            fetched = client.get(f"/v1/profiles/{created['profile_id']}")
        assert fetched.status_code == 200
        assert fetched.json()["profile"]["email"] == "kept@example.org"
        assert (var_dir / "nats" / "jetstream").is_dir()
    finally:
        assert second.stop() == 0


def test_unversioned_routes_redirect_to_v1_with_deprecation_headers(client: httpx.Client) -> None:
    created = _create(client, f"legacy-{uuid.uuid4().hex[:8]}@example.org")
    response = client.get(f"/profiles/{created['profile_id']}?x=1")
    assert response.status_code == 308
    assert response.headers["location"].endswith(f"/v1/profiles/{created['profile_id']}?x=1")
    assert response.headers["deprecation"].startswith("@")
    assert response.headers["sunset"].endswith("GMT")
    assert response.headers["link"] == f'</v1/profiles/{created["profile_id"]}?x=1>; rel="successor-version"'
    followed = client.get(f"/profiles/{created['profile_id']}", follow_redirects=True)
    assert followed.status_code == 200
    assert followed.json()["profile"]["profile_id"] == created["profile_id"]
