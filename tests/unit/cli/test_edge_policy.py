"""The edge policy generated from the contracts agrees with the role table for every RPC.

The generated jwt_authn rules and RBAC policies are evaluated here with Envoy's semantics for
the few matcher kinds the generator emits (first matching jwt rule wins; RBAC ALLOW when any
policy has a matching permission and a matching principal); the real Envoy runs the same
policy in tests/integration/test_edge_security.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from google.protobuf import descriptor_pb2

from services.cli import edge_policy
from services.cli.openapi import DESCRIPTOR_SET, load_pool, teei_services
from services.kit.errors import PermissionDenied
from services.kit.security.access import AccessRule
from services.kit.security.auth import ROLE_PERMISSIONS, Principal, authorize

NO_TOKEN = None


def _all_services() -> list[str]:
    pool, _ = load_pool(DESCRIPTOR_SET)
    files = [f.name for f in descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR_SET.read_bytes()).file]
    return [service.full_name for service in teei_services(pool, files)]


SERVICES = _all_services()
POLICIES = edge_policy.load_method_policies(DESCRIPTOR_SET, SERVICES)
PREFIXES = edge_policy.service_prefixes(POLICIES, SERVICES)
RBAC = edge_policy.rbac_config(POLICIES, PREFIXES)
JWT_RULES = edge_policy.jwt_rules(POLICIES, PREFIXES)
ROLES = [*sorted(ROLE_PERMISSIONS), NO_TOKEN]


# --- a small evaluator of the generated structures --------------------------------------


def _string_match(matcher: dict[str, Any], value: str) -> bool:
    if "exact" in matcher:
        return bool(value == matcher["exact"])
    return value.startswith(matcher["prefix"])


def _permission(rule: dict[str, Any], path: str) -> bool:
    if rule.get("any"):
        return True
    if "url_path" in rule:
        return _string_match(rule["url_path"]["path"], path)
    if "not_rule" in rule:
        return not _permission(rule["not_rule"], path)
    if "or_rules" in rule:
        return any(_permission(r, path) for r in rule["or_rules"]["rules"])
    raise AssertionError(f"unexpected permission {rule}")


def _principal(principal: dict[str, Any], claims: dict[str, str]) -> bool:
    if principal.get("any"):
        return True
    matcher = principal["sourced_metadata"]["metadata_matcher"]
    assert matcher["filter"] == "envoy.filters.http.jwt_authn"
    keys = [step["key"] for step in matcher["path"]]
    assert keys[0] == edge_policy.PAYLOAD_KEY
    value = claims.get(keys[1])
    return value is not None and _string_match(matcher["value"]["string_match"], value)


def _rbac_allows(path: str, role: str | None) -> bool:
    assert RBAC["rules"]["action"] == "ALLOW"
    claims = {} if role is None else {"role": role, "sub": "u-1", "company": "acme"}
    return any(
        any(_permission(p, path) for p in policy["permissions"])
        and any(_principal(p, claims) for p in policy["principals"])
        for policy in RBAC["rules"]["policies"].values()
    )


def _token_required(path: str) -> bool:
    for rule in JWT_RULES:
        match = rule["match"]
        if ("path" in match and match["path"] == path) or ("prefix" in match and path.startswith(match["prefix"])):
            return "requires" in rule
    return False


def _expected(rule: AccessRule | None, role: str | None) -> bool:
    if rule is None:
        return False
    if rule.public:
        return True
    if role is None or role == "service":
        return False  # the edge serves people and machine clients, never service identities
    try:
        authorize(Principal(subject="u-1", tenant="acme", role=role), rule)
    except PermissionDenied:
        return False
    return True


# --- the policy against the role table --------------------------------------------------


def test_every_rpc_of_the_contracts_is_covered() -> None:
    assert len(POLICIES) > 50
    assert all(p.rule is not None for p in POLICIES), [p.path for p in POLICIES if p.rule is None]


@pytest.mark.parametrize("policy", POLICIES, ids=[p.path for p in POLICIES])
def test_rbac_matches_role_table(policy: edge_policy.MethodPolicy) -> None:
    for role in ROLES:
        assert _rbac_allows(policy.path, role) == _expected(policy.rule, role), (policy.path, role)


@pytest.mark.parametrize("policy", POLICIES, ids=[p.path for p in POLICIES])
def test_token_required_exactly_for_non_public_rpcs(policy: edge_policy.MethodPolicy) -> None:
    assert policy.rule is not None
    assert _token_required(policy.path) == (not policy.rule.public)


def test_permission_policies_name_the_roles_holding_them() -> None:
    policies = RBAC["rules"]["policies"]
    for permission in {p.rule.permission for p in POLICIES if p.rule and p.rule.permission}:
        roles = {
            principal["sourced_metadata"]["metadata_matcher"]["value"]["string_match"]["exact"]
            for principal in policies[permission.lower()]["principals"]
        }
        assert roles == {r for r, held in ROLE_PERMISSIONS.items() if permission in held}
        assert "service" not in roles


def test_unknown_method_of_a_routed_service_is_denied_even_to_super_admin() -> None:
    path = f"/{SERVICES[0]}/NoSuchMethod"
    assert _token_required(path)
    assert not _rbac_allows(path, "super_admin")


@pytest.mark.parametrize("path", ["/health/liveness", "/v1/nope", "/profiles/p-1"])
def test_paths_the_edge_answers_itself_are_open(path: str) -> None:
    assert not _token_required(path)
    assert _rbac_allows(path, NO_TOKEN)


def test_extra_rules_cover_methods_outside_the_descriptor() -> None:
    rule = AccessRule(public=False, permission="PERMISSION_COMPANY_DATA_READ")
    policies = edge_policy.load_method_policies(DESCRIPTOR_SET, ["test.Echo"], {"/test.Echo/Echo": rule})
    assert [p.path for p in policies] == ["/test.Echo/Echo"]
    assert edge_policy.service_prefixes(policies, ["test.Echo"]) == ["/test.Echo/"]


def test_a_permission_no_role_holds_gets_no_policy() -> None:
    policies = (edge_policy.MethodPolicy("/x.S/M", AccessRule(public=False, permission="PERMISSION_NOBODY")),)
    named = edge_policy.rbac_policies(policies, ["/x.S/"])
    assert set(named) == {"edge_local"}


# --- bulk uploads, REST patterns, WAF and rate-limit actions ----------------------------


def test_bulk_uploads_are_the_csv_imports() -> None:
    bulk = sorted(p.path for p in POLICIES if p.bulk_upload)
    assert bulk == [
        "/teei.buddy.v1.BuddyService/ImportRecords",
        "/teei.kintell.v1.KintellService/ImportSessions",
        "/teei.upskilling.v1.UpskillingService/ImportRecords",
    ]
    patterns = [pattern for p in POLICIES if p.bulk_upload for pattern in p.rest_patterns]
    assert any(re.fullmatch(pattern, "/v1/upskilling/imports/courses") for pattern in patterns)
    assert not any(re.fullmatch(pattern, "/v1/upskilling/webhooks/ecornell") for pattern in patterns)


@pytest.mark.parametrize(
    ("template", "matching", "not_matching"),
    [
        ("/v1/profiles/{profile_id}", "/v1/profiles/p-1", "/v1/profiles/p-1/x"),
        ("/v1/files/{name=**}", "/v1/files/a/b/c", "/v1/files"),
        ("/v1/privacy/subjects:export", "/v1/privacy/subjects:export", "/v1/privacy/subjectsXexport"),
        ("/v1/a/{b=items/*}/c", "/v1/a/items/7/c", "/v1/a/other/7/c"),
    ],
)
def test_rest_pattern(template: str, matching: str, not_matching: str) -> None:
    pattern = edge_policy.rest_pattern(template)
    assert re.fullmatch(pattern, matching)
    assert not re.fullmatch(pattern, not_matching)


def test_user_agent_block_list() -> None:
    assert edge_policy.user_agent_block_config(()) is None
    config = edge_policy.user_agent_block_config(("sqlmap", "nikto"))
    assert config is not None
    assert config["rules"]["action"] == "DENY"
    principals = config["rules"]["policies"]["blocked_user_agent"]["principals"]
    assert [p["header"]["string_match"] for p in principals] == [
        {"contains": "sqlmap", "ignore_case": True},
        {"contains": "nikto", "ignore_case": True},
    ]


def test_ratelimit_descriptors_use_verified_sources_only() -> None:
    actions = edge_policy.ratelimit_actions()
    assert len(actions) == 3
    assert all(len(group["actions"]) == 1 for group in actions)
    tenant, client, address = (group["actions"][0] for group in actions)
    assert tenant["metadata"]["descriptor_key"] == "tenant"
    assert tenant["metadata"]["metadata_key"]["path"] == [{"key": "jwt_payload"}, {"key": "company"}]
    assert client["metadata"]["metadata_key"]["path"] == [{"key": "jwt_payload"}, {"key": "sub"}]
    assert (
        tenant["metadata"]["metadata_key"]["key"] == client["metadata"]["metadata_key"]["key"] == edge_policy.JWT_FILTER
    )
    assert address == {"remote_address": {}}
