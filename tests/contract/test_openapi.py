"""The OpenAPI specs generated from the contracts are valid and describe the edge's REST surface."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from openapi_spec_validator import validate

from services.cli import openapi


def _generate(tmp_path: Path) -> dict[str, Any]:
    written = openapi.generate(tmp_path)
    return {p.name: yaml.safe_load(p.read_text()) for p in written if p.suffix == ".yaml"}


def test_every_generated_spec_is_valid_openapi(tmp_path: Path) -> None:
    specs = _generate(tmp_path)
    assert "teei.openapi.yaml" in specs
    assert len(specs) == 9  # seven services, operations (served by the gateway), and the merged spec
    for spec in specs.values():
        validate(spec)


def test_spec_matches_the_edge_json_mapping(tmp_path: Path) -> None:
    spec = _generate(tmp_path)["teei.openapi.yaml"]
    paths = spec["paths"]
    get_profile = paths["/v1/profiles/{profile_id}"]["get"]
    assert get_profile["operationId"] == "ProfileService_GetProfile"
    assert get_profile["parameters"] == [
        {
            "name": "profile_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "format": "uuid", "pattern": openapi.UUID_PATTERN},
        }
    ]
    schemas = spec["components"]["schemas"]
    profile = schemas["teei.profile.v1.Profile"]["properties"]
    assert profile["create_time"] == {"type": "string", "format": "date-time", "readOnly": True}
    counters = {"type": "object", "additionalProperties": {"type": "string", "format": "int64"}, "readOnly": True}
    assert profile["counters"] == counters
    assert "PERSON_ROLE_VOLUNTEER" in profile["role"]["enum"]
    csv_import = paths["/v1/kintell/imports"]["post"]["requestBody"]
    assert csv_import["content"] == {"*/*": {"schema": {"type": "string", "format": "binary"}}}


def test_every_public_route_is_versioned(tmp_path: Path) -> None:
    spec = _generate(tmp_path)["teei.openapi.yaml"]
    unversioned = [p for p in spec["paths"] if not p.startswith("/v1/")]
    assert unversioned == ["/.well-known/jwks.json", "/auth/jwks"]


def test_index_lists_every_service(tmp_path: Path) -> None:
    openapi.generate(tmp_path)
    index = (tmp_path / "index.md").read_text()
    for service in ("gateway", "operations", "profile", "kintell", "buddy", "upskilling", "q2q", "safety"):
        assert f"[{service}.openapi.yaml]" in index


def test_every_error_answer_is_documented_as_a_status_body(tmp_path: Path) -> None:
    spec = _generate(tmp_path)["teei.openapi.yaml"]
    status = {"application/json": {"schema": {"$ref": "#/components/schemas/google.rpc.Status"}}}
    for item in spec["paths"].values():
        for verb, operation in item.items():
            responses = operation["responses"]
            assert "default" not in responses
            assert {"400", "401", "403", "404", "429", "431"} <= set(responses)
            assert ("409" in responses) == (verb != "get")
            assert ("413" in responses) == ("requestBody" in operation)
            assert all(responses[code]["content"] == status for code in responses if code != "200")
    assert spec["components"]["schemas"]["google.rpc.Status"]["required"] == ["code", "message"]


def test_only_unbuilt_rpcs_document_501(tmp_path: Path) -> None:
    """Every RPC is built now: none documents 501 (an RPC named NotBuilt again would, and be listed)."""
    spec = _generate(tmp_path)["teei.openapi.yaml"]
    paths = spec["paths"]
    assert "501" not in paths["/v1/privacy/export"]["post"]["responses"]
    assert "501" not in paths["/v1/profiles"]["post"]["responses"]
    assert openapi.unbuilt_methods() == set()


def test_requests_are_constrained_as_the_services_validate_them(tmp_path: Path) -> None:
    paths = _generate(tmp_path)["teei.openapi.yaml"]["paths"]
    params = {p["name"]: p["schema"] for p in paths["/v1/buddy/matches"]["get"]["parameters"]}
    assert params["page_size"] == {"type": "integer", "format": "int32", "minimum": 0, "maximum": 2**31 - 1}
    assert params["profile_id"]["format"] == "uuid"
    assert params["profile_id"]["pattern"] == openapi.UUID_PATTERN
    sso = paths["/v1/auth/sso/{provider}/login"]["get"]["parameters"][0]["schema"]
    assert sso == {"type": "string", "minLength": 1}
