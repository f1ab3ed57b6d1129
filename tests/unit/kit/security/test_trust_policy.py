"""The mesh trust policy: what the shipped file grants, and which malformed policies are refused (and how)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from services.cli import certs
from services.kit.security import trust_policy
from services.kit.security.certificates import TRUST_DOMAIN, spiffe_id

SEVEN = ("gateway", "profile", "kintell", "buddy", "upskilling", "q2q", "safety")


def test_shipped_policy_declares_the_mesh_identities_and_every_service() -> None:
    policy = trust_policy.load_policy()
    assert policy.identities == set(certs.MESH_IDENTITIES)
    assert set(policy.callers) == {*SEVEN, "ratelimit"}


def test_shipped_policy_lets_the_edge_call_every_service_and_the_gateway_every_other() -> None:
    policy = trust_policy.load_policy()
    for service in SEVEN:
        assert policy.allows(service, spiffe_id("edge"))
        assert policy.allows(service, spiffe_id("gateway")) == (service != "gateway")


@pytest.mark.parametrize(
    ("service", "caller", "allowed"),
    [
        ("safety", "q2q", True),
        ("safety", "kintell", True),
        ("profile", "safety", False),
        ("q2q", "kintell", False),
        ("gateway", "profile", False),
        ("profile", "reporting", False),
        ("unknown", "edge", False),
    ],
)
def test_shipped_policy_internal_grants(service: str, caller: str, allowed: bool) -> None:
    assert trust_policy.load_policy().allows(service, spiffe_id(caller)) is allowed


def test_identities_outside_the_trust_domain_are_never_allowed() -> None:
    policy = trust_policy.load_policy()
    assert not policy.allows("profile", "spiffe://elsewhere.local/service/edge")
    assert not policy.allows("profile", None)
    assert not policy.is_member("spiffe://elsewhere.local/service/edge")
    assert policy.is_member(spiffe_id("reporting"))


def _policy(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "version": 1,
        "trust_domain": "teei.local",
        "identities": {"edge": "the edge", "profile": "profiles"},
        "services": {"profile": {"edge": "external routes"}},
    }
    document.update(changes)
    return document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "expected a non-empty mapping"),
        (_policy(version=2), "version"),
        (_policy(trust_domain="evil.local"), "trust_domain"),
        (_policy(extra=True), "unknown keys"),
        ({k: v for k, v in _policy().items() if k != "services"}, "missing keys"),
        (_policy(services={}), "services: expected a non-empty mapping"),
        (_policy(services={"profile": {"edg": "typo"}}), "not a declared identity"),
        (_policy(services={"billing": {"edge": "x"}}), "'billing' is not a declared identity"),
        (_policy(services={"profile": {"edge": ""}}), "give the reason"),
        (_policy(services={"profile": ["edge"]}), "expected a non-empty mapping"),
        (_policy(identities={"Edge": "x"}), "not a workload name"),
    ],
)
def test_malformed_policies_fail_naming_the_problem(document: object, message: str) -> None:
    with pytest.raises(trust_policy.PolicyError, match=message):
        trust_policy.parse_policy(document)


def test_policy_file_with_duplicate_keys_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    text = yaml.safe_dump(_policy())
    path.write_text(text + "services:\n  profile:\n    profile: self\n")
    with pytest.raises(trust_policy.PolicyError, match="duplicate keys: services"):
        trust_policy.load_policy(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"version: [1", "not valid YAML"), (b"#" * (65 * 1024), "larger than")],
    ids=["broken-yaml", "oversized"],
)
def test_unreadable_policy_files_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(content)
    with pytest.raises(trust_policy.PolicyError, match=message):
        trust_policy.load_policy(path)


def test_missing_policy_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(trust_policy.PolicyError, match="cannot read"):
        trust_policy.load_policy(tmp_path / "absent.yaml")


def test_shipped_policy_lets_q2q_screen_for_a_tenant_on_its_own_and_nothing_else() -> None:
    policy = trust_policy.load_policy()
    q2q = spiffe_id("q2q")
    assert policy.may_act("safety", q2q, "/teei.safety.v1.SafetyService/ScreenText")
    assert not policy.may_act("safety", q2q, "/teei.safety.v1.SafetyService/ListFlags")
    assert not policy.may_act("safety", spiffe_id("kintell"), "/teei.safety.v1.SafetyService/ScreenText")
    assert not policy.may_act("profile", spiffe_id("gateway"), "/teei.profile.v1.ProfileService/GetProfile")
    assert policy.allows("safety", q2q)


@pytest.mark.parametrize(
    ("grant", "error"),
    [
        ({"why": "x", "acts_for_tenant": []}, "acts_for_tenant"),
        ({"why": "x", "acts_for_tenant": ["screen_text"]}, "acts_for_tenant"),
        ({"why": "x", "acts_for_tenant": "ScreenText"}, "acts_for_tenant"),
        ({"acts_for_tenant": ["ScreenText"]}, "missing keys"),
        ({"why": "", "acts_for_tenant": ["ScreenText"]}, "reason"),
        ({"why": "x", "acts_for_tenant": ["ScreenText"], "extra": 1}, "unknown keys"),
    ],
)
def test_malformed_acting_grants_are_refused(grant: dict[str, object], error: str) -> None:
    document = {
        "version": 1,
        "trust_domain": TRUST_DOMAIN,
        "identities": {"safety": "s", "q2q": "q"},
        "services": {"safety": {"q2q": grant}},
    }
    with pytest.raises(trust_policy.PolicyError, match=error):
        trust_policy.parse_policy(document)
