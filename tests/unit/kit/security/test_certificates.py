"""Mesh certificates: the SPIFFE identity a certificate carries, and key pairs read from disk."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.cli import certs
from services.kit.security import certificates


@pytest.fixture
def cert_dir(tmp_path: Path) -> Path:
    """A folder holding a fresh local CA."""
    folder = tmp_path / "mtls"
    certs.init_ca(folder)
    return folder


def test_a_mismatched_key_and_certificate_are_refused(cert_dir: Path) -> None:
    certs.issue(cert_dir, "profile")
    certs.issue(cert_dir, "safety")
    certificates.key_path(cert_dir, "profile").write_bytes(certificates.key_path(cert_dir, "safety").read_bytes())
    with pytest.raises(certificates.CertificateMismatch):
        certificates.read_pair(cert_dir, "profile")


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
    assert certificates.spiffe_id_of(_cert_with(names)) is None


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
    assert certificates.workload_name(identity) == name
