"""Every RPC declares who may call it and a REST route: the CI check behind the access-rule option."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor

from services.cli.spec import REPO_ROOT
from services.kit.security import access

GEN = REPO_ROOT / "gen" / "python"
WELL_KNOWN_PATHS = ("/auth/jwks", "/.well-known/jwks.json")


def _methods() -> list[descriptor.MethodDescriptor]:
    methods = []
    for path in sorted(GEN.rglob("*_pb2.py")):
        module = importlib.import_module(".".join(path.relative_to(GEN).with_suffix("").parts))
        for service in module.DESCRIPTOR.services_by_name.values():
            methods.extend(service.methods)
    return methods


METHODS = _methods()


def _http_rule(method: descriptor.MethodDescriptor) -> http_pb2.HttpRule | None:
    options = method.GetOptions()
    return options.Extensions[annotations_pb2.http] if options.HasExtension(annotations_pb2.http) else None


def _paths(rule: http_pb2.HttpRule) -> list[str]:
    rules = [rule, *rule.additional_bindings]
    return [getattr(r, r.WhichOneof("pattern")) for r in rules if r.WhichOneof("pattern") != "custom"]


def test_the_contracts_define_services() -> None:
    services = {m.containing_service.full_name for m in METHODS}
    assert "teei.profile.v1.ProfileService" in services


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.full_name)
def test_every_rpc_declares_an_access_rule(method: descriptor.MethodDescriptor) -> None:
    assert access.rule_of(method) is not None, f"{method.full_name} has no (teei.common.v1.access) option"


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.full_name)
def test_every_rpc_has_a_versioned_rest_route(method: descriptor.MethodDescriptor) -> None:
    rule = _http_rule(method)
    assert rule is not None, f"{method.full_name} has no google.api.http binding"
    for path in _paths(rule):
        assert path.startswith("/v1/") or path in WELL_KNOWN_PATHS, f"{method.full_name}: {path} is not under /v1"


def test_rule_lookup_by_method_path() -> None:
    rule = access.rule_for("/teei.profile.v1.ProfileService/GetProfile")
    assert rule == access.AccessRule(public=False, permission="PERMISSION_USERS_READ")
    assert access.rule_for("/teei.profile.v1.ProfileService/NoSuchMethod") is None
    assert access.rule_for("/no.such.Service/Method") is None


def test_generated_tree_is_where_the_tests_look() -> None:
    assert Path(GEN / "teei" / "profile" / "v1" / "profile_pb2.py").exists()
