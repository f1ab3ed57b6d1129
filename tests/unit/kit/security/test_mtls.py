"""Mesh certificates and trust policy: what `teei certs` writes, and which policies load."""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from services.cli import certs
from services.kit.security import mtls

SEVEN = ("gateway", "profile", "kintell", "buddy", "upskilling", "q2q", "safety")


@pytest.fixture
def cert_dir(tmp_path: Path) -> Path:
    """A folder holding a fresh local CA."""
    folder = tmp_path / "mtls"
    certs.init_ca(folder)
    return folder


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


# --- the CA ------------------------------------------------------------------------------------


def test_init_creates_a_p256_ca_allowed_to_sign_leaves_only(cert_dir: Path) -> None:
    ca = _load(mtls.ca_cert_path(cert_dir))
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "teei-mesh local CA"
    assert ca.subject == ca.issuer
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca
    assert constraints.value.path_length == 0
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert (usage.key_cert_sign, usage.crl_sign, usage.digital_signature) == (True, True, False)
    public = ca.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert public.curve.name == "secp256r1"
    lifetime = ca.not_valid_after_utc - ca.not_valid_before_utc
    assert dt.timedelta(days=365) <= lifetime <= dt.timedelta(days=365, minutes=10)
    ca.verify_directly_issued_by(ca)


def test_ca_key_is_private_to_its_owner(cert_dir: Path) -> None:
    assert _mode(mtls.key_path(cert_dir, "ca")) == 0o600
    assert _mode(cert_dir) == 0o700


def test_init_refuses_to_replace_an_existing_ca(cert_dir: Path) -> None:
    before = mtls.ca_cert_path(cert_dir).read_bytes()
    with pytest.raises(certs.CertError, match="already exists"):
        certs.init_ca(cert_dir)
    assert mtls.ca_cert_path(cert_dir).read_bytes() == before


# --- service certificates ----------------------------------------------------------------------


def test_issued_certificate_names_exactly_one_spiffe_identity(cert_dir: Path) -> None:
    cert = certs.issue(cert_dir, "profile")
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://teei.local/service/profile"]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.IPv4Address("127.0.0.1")]
    assert mtls.spiffe_id_of(cert) == "spiffe://teei.local/service/profile"
    assert _load(mtls.cert_path(cert_dir, "profile")) == cert


def test_issued_certificate_is_a_short_lived_leaf_for_both_tls_roles(cert_dir: Path) -> None:
    cert = certs.issue(cert_dir, "safety")
    cert.verify_directly_issued_by(_load(mtls.ca_cert_path(cert_dir)))
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usages = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert usages == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=30) <= lifetime <= dt.timedelta(days=30, minutes=10)


def test_service_key_is_0600_and_matches_its_certificate(cert_dir: Path) -> None:
    certs.issue(cert_dir, "q2q")
    assert _mode(mtls.key_path(cert_dir, "q2q")) == 0o600
    assert mtls.read_pair(cert_dir, "q2q").cert == mtls.cert_path(cert_dir, "q2q").read_bytes()


def test_validity_can_be_shortened(cert_dir: Path) -> None:
    cert = certs.issue(cert_dir, "buddy", days=1)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc <= dt.timedelta(days=1, minutes=10)


@pytest.mark.parametrize("days", [0, -1, 100_000])
def test_out_of_range_validity_is_refused(cert_dir: Path, days: int) -> None:
    with pytest.raises(certs.CertError, match="out of range"):
        certs.issue(cert_dir, "buddy", days=days)


@pytest.mark.parametrize("name", ["", "Profile", "../profile", "pro/file", "1st", "ca", "x" * 64, "pro file"])
def test_malformed_workload_names_are_refused(cert_dir: Path, name: str) -> None:
    with pytest.raises(certs.CertError, match="not a workload name"):
        certs.issue(cert_dir, name)
    assert sorted(p.name for p in cert_dir.iterdir()) == ["ca.crt", "ca.key"]


def test_issue_without_a_ca_says_to_init_first(tmp_path: Path) -> None:
    with pytest.raises(certs.CertError, match="teei certs init"):
        certs.issue(tmp_path, "profile")


def test_issuing_twice_is_refused_and_keeps_the_first_certificate(cert_dir: Path) -> None:
    first = certs.issue(cert_dir, "profile")
    with pytest.raises(certs.CertError, match="rotate"):
        certs.issue(cert_dir, "profile")
    assert _load(mtls.cert_path(cert_dir, "profile")) == first


def test_issue_all_covers_the_seven_services_and_the_edge_once(cert_dir: Path) -> None:
    certs.issue(cert_dir, "profile")
    issued = certs.issue_all(cert_dir)
    assert sorted(issued) == sorted({*SEVEN, "ratelimit", "edge"} - {"profile"})
    assert certs.issue_all(cert_dir) == []
    for name in (*SEVEN, "ratelimit", "edge"):
        assert mtls.spiffe_id_of(_load(mtls.cert_path(cert_dir, name))) == mtls.spiffe_id(name)


# --- rotation ----------------------------------------------------------------------------------


def test_rotate_replaces_key_and_certificate_keeping_the_identity(cert_dir: Path) -> None:
    old = certs.issue(cert_dir, "kintell")
    old_key = mtls.key_path(cert_dir, "kintell").read_bytes()
    new = certs.rotate(cert_dir, "kintell")
    assert new.serial_number != old.serial_number
    assert mtls.key_path(cert_dir, "kintell").read_bytes() != old_key
    assert mtls.spiffe_id_of(new) == mtls.spiffe_id_of(old) == "spiffe://teei.local/service/kintell"
    assert _mode(mtls.key_path(cert_dir, "kintell")) == 0o600
    assert mtls.read_pair(cert_dir, "kintell").cert == new.public_bytes(serialization.Encoding.PEM)
    assert not [p for p in cert_dir.iterdir() if p.name.endswith(".tmp")]


def test_rotate_needs_an_existing_certificate(cert_dir: Path) -> None:
    with pytest.raises(certs.CertError, match="teei certs issue"):
        certs.rotate(cert_dir, "kintell")


def test_rotate_refuses_a_certificate_of_another_identity(cert_dir: Path) -> None:
    certs.issue(cert_dir, "buddy")
    mtls.cert_path(cert_dir, "kintell").write_bytes(mtls.cert_path(cert_dir, "buddy").read_bytes())
    with pytest.raises(certs.CertError, match="refusing to rotate"):
        certs.rotate(cert_dir, "kintell")


def test_ensure_creates_everything_then_renews_only_what_expires_soon(tmp_path: Path) -> None:
    folder = tmp_path / "mtls"
    assert sorted(certs.ensure(folder)) == sorted(certs.MESH_IDENTITIES)
    assert certs.ensure(folder) == []
    certs.rotate(folder, "q2q", days=2)
    assert certs.ensure(folder) == ["q2q"]


def test_a_mismatched_key_and_certificate_are_refused(cert_dir: Path) -> None:
    certs.issue(cert_dir, "profile")
    certs.issue(cert_dir, "safety")
    mtls.key_path(cert_dir, "profile").write_bytes(mtls.key_path(cert_dir, "safety").read_bytes())
    with pytest.raises(mtls.CertificateMismatch):
        mtls.read_pair(cert_dir, "profile")


# --- the command line --------------------------------------------------------------------------


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="teei")
    certs.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["certs", *argv])
    assert args.run is certs.run  # how `teei` dispatches a registered command
    code: int = args.run(args)
    return code


def test_command_line_init_issue_all_and_rotate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = str(tmp_path / "m")
    assert _run("init", "--dir", folder) == 0
    assert _run("issue", "--all", "--dir", folder) == 0
    assert _run("rotate", "profile", "--dir", folder, "--days", "7") == 0
    assert _run("issue", "reporting", "--dir", folder) == 0
    out = capsys.readouterr().out
    assert "spiffe://teei.local/service/profile" in out
    assert "spiffe://teei.local/service/reporting" in out


def test_command_line_reports_failures_with_exit_code_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("issue", "profile", "--dir", str(tmp_path)) == 1
    assert "teei certs init" in capsys.readouterr().err


def test_command_line_needs_a_name_or_all(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        _run("issue", "--dir", str(tmp_path))
    with pytest.raises(SystemExit):
        _run("issue", "profile", "--all", "--dir", str(tmp_path))


# --- SPIFFE identity of a certificate ----------------------------------------------------------


def _cert_with(names: list[x509.GeneralName] | None) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
    )
    if names is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(key, hashes.SHA256())


@pytest.mark.parametrize(
    "names",
    [
        None,
        [x509.DNSName("localhost")],
        [x509.UniformResourceIdentifier("https://teei.local/service/profile")],
        [
            x509.UniformResourceIdentifier("spiffe://teei.local/service/profile"),
            x509.UniformResourceIdentifier("spiffe://teei.local/service/edge"),
        ],
    ],
    ids=["no-san", "dns-only", "not-spiffe", "two-uris"],
)
def test_certificates_without_exactly_one_spiffe_uri_have_no_identity(names: list[x509.GeneralName] | None) -> None:
    assert mtls.spiffe_id_of(_cert_with(names)) is None


@pytest.mark.parametrize(
    ("identity", "name"),
    [
        ("spiffe://teei.local/service/profile", "profile"),
        ("spiffe://other.local/service/profile", None),
        ("spiffe://teei.local/service/", None),
        ("spiffe://teei.local/service/profile/extra", None),
        ("spiffe://teei.local/workload/profile", None),
        ("spiffe://teei.local.evil/service/profile", None),
    ],
)
def test_workload_name_accepts_only_service_ids_of_the_trust_domain(identity: str, name: str | None) -> None:
    assert mtls.workload_name(identity) == name


# --- trust policy ------------------------------------------------------------------------------


def test_shipped_policy_declares_the_mesh_identities_and_every_service() -> None:
    policy = mtls.load_policy()
    assert policy.identities == set(certs.MESH_IDENTITIES)
    assert set(policy.callers) == {*SEVEN, "ratelimit"}


def test_shipped_policy_lets_the_edge_call_every_service_and_the_gateway_every_other() -> None:
    policy = mtls.load_policy()
    for service in SEVEN:
        assert policy.allows(service, mtls.spiffe_id("edge"))
        assert policy.allows(service, mtls.spiffe_id("gateway")) == (service != "gateway")


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
    assert mtls.load_policy().allows(service, mtls.spiffe_id(caller)) is allowed


def test_identities_outside_the_trust_domain_are_never_allowed() -> None:
    policy = mtls.load_policy()
    assert not policy.allows("profile", "spiffe://elsewhere.local/service/edge")
    assert not policy.allows("profile", None)
    assert not policy.is_member("spiffe://elsewhere.local/service/edge")
    assert policy.is_member(mtls.spiffe_id("reporting"))


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
    with pytest.raises(mtls.PolicyError, match=message):
        mtls.parse_policy(document)


def test_policy_file_with_duplicate_keys_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    text = yaml.safe_dump(_policy())
    path.write_text(text + "services:\n  profile:\n    profile: self\n")
    with pytest.raises(mtls.PolicyError, match="duplicate keys: services"):
        mtls.load_policy(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"version: [1", "not valid YAML"), (b"#" * (65 * 1024), "larger than")],
    ids=["broken-yaml", "oversized"],
)
def test_unreadable_policy_files_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(content)
    with pytest.raises(mtls.PolicyError, match=message):
        mtls.load_policy(path)


def test_missing_policy_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(mtls.PolicyError, match="cannot read"):
        mtls.load_policy(tmp_path / "absent.yaml")


def test_interceptor_for_a_service_without_a_policy_entry_fails_at_start() -> None:
    with pytest.raises(mtls.PolicyError, match="no entry for 'billing'"):
        mtls.TrustPolicyInterceptor(mtls.load_policy(), "billing")


def test_shipped_policy_lets_q2q_screen_for_a_tenant_on_its_own_and_nothing_else() -> None:
    policy = mtls.load_policy()
    q2q = mtls.spiffe_id("q2q")
    assert policy.may_act("safety", q2q, "/teei.safety.v1.SafetyService/ScreenText")
    assert not policy.may_act("safety", q2q, "/teei.safety.v1.SafetyService/ListFlags")
    assert not policy.may_act("safety", mtls.spiffe_id("kintell"), "/teei.safety.v1.SafetyService/ScreenText")
    assert not policy.may_act("profile", mtls.spiffe_id("gateway"), "/teei.profile.v1.ProfileService/GetProfile")
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
        "trust_domain": mtls.TRUST_DOMAIN,
        "identities": {"safety": "s", "q2q": "q"},
        "services": {"safety": {"q2q": grant}},
    }
    with pytest.raises(mtls.PolicyError, match=error):
        mtls.parse_policy(document)
