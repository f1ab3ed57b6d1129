"""`teei certs`: the local CA, per-service certificates, rotation and the command line."""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from services.cli import certs
from services.kit.security import certificates

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
    ca = _load(certificates.ca_cert_path(cert_dir))
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
    assert _mode(certificates.key_path(cert_dir, "ca")) == 0o600
    assert _mode(cert_dir) == 0o700


def test_init_refuses_to_replace_an_existing_ca(cert_dir: Path) -> None:
    before = certificates.ca_cert_path(cert_dir).read_bytes()
    with pytest.raises(certs.CertError, match="already exists"):
        certs.init_ca(cert_dir)
    assert certificates.ca_cert_path(cert_dir).read_bytes() == before


# --- service certificates ----------------------------------------------------------------------


def test_issued_certificate_names_exactly_one_spiffe_identity(cert_dir: Path) -> None:
    cert = certs.issue(cert_dir, "profile")
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://teei.local/service/profile"]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.IPv4Address("127.0.0.1")]
    assert certificates.spiffe_id_of(cert) == "spiffe://teei.local/service/profile"
    assert _load(certificates.cert_path(cert_dir, "profile")) == cert


def test_issued_certificate_is_a_short_lived_leaf_for_both_tls_roles(cert_dir: Path) -> None:
    cert = certs.issue(cert_dir, "safety")
    cert.verify_directly_issued_by(_load(certificates.ca_cert_path(cert_dir)))
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usages = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert usages == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=30) <= lifetime <= dt.timedelta(days=30, minutes=10)


def test_service_key_is_0600_and_matches_its_certificate(cert_dir: Path) -> None:
    certs.issue(cert_dir, "q2q")
    assert _mode(certificates.key_path(cert_dir, "q2q")) == 0o600
    assert certificates.read_pair(cert_dir, "q2q").cert == certificates.cert_path(cert_dir, "q2q").read_bytes()


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
    assert _load(certificates.cert_path(cert_dir, "profile")) == first


def test_issue_all_covers_the_seven_services_and_the_edge_once(cert_dir: Path) -> None:
    certs.issue(cert_dir, "profile")
    issued = certs.issue_all(cert_dir)
    assert sorted(issued) == sorted({*SEVEN, "ratelimit", "edge"} - {"profile"})
    assert certs.issue_all(cert_dir) == []
    for name in (*SEVEN, "ratelimit", "edge"):
        assert certificates.spiffe_id_of(_load(certificates.cert_path(cert_dir, name))) == certificates.spiffe_id(name)


# --- rotation ----------------------------------------------------------------------------------


def test_rotate_replaces_key_and_certificate_keeping_the_identity(cert_dir: Path) -> None:
    old = certs.issue(cert_dir, "kintell")
    old_key = certificates.key_path(cert_dir, "kintell").read_bytes()
    new = certs.rotate(cert_dir, "kintell")
    assert new.serial_number != old.serial_number
    assert certificates.key_path(cert_dir, "kintell").read_bytes() != old_key
    assert certificates.spiffe_id_of(new) == certificates.spiffe_id_of(old) == "spiffe://teei.local/service/kintell"
    assert _mode(certificates.key_path(cert_dir, "kintell")) == 0o600
    assert certificates.read_pair(cert_dir, "kintell").cert == new.public_bytes(serialization.Encoding.PEM)
    assert not [p for p in cert_dir.iterdir() if p.name.endswith(".tmp")]


def test_rotate_needs_an_existing_certificate(cert_dir: Path) -> None:
    with pytest.raises(certs.CertError, match="teei certs issue"):
        certs.rotate(cert_dir, "kintell")


def test_rotate_refuses_a_certificate_of_another_identity(cert_dir: Path) -> None:
    certs.issue(cert_dir, "buddy")
    certificates.cert_path(cert_dir, "kintell").write_bytes(certificates.cert_path(cert_dir, "buddy").read_bytes())
    with pytest.raises(certs.CertError, match="refusing to rotate"):
        certs.rotate(cert_dir, "kintell")


def test_ensure_creates_everything_then_renews_only_what_expires_soon(tmp_path: Path) -> None:
    folder = tmp_path / "mtls"
    assert sorted(certs.ensure(folder)) == sorted(certs.MESH_IDENTITIES)
    assert certs.ensure(folder) == []
    certs.rotate(folder, "q2q", days=2)
    assert certs.ensure(folder) == ["q2q"]


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
