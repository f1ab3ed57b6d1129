"""`teei certs init|issue|rotate`: a local CA and short-lived per-service certificates for mesh mTLS."""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import secrets
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from services.cli.spec import REPO_ROOT
from services.kit.security import certificates
from services.kit.security.certificates import spiffe_id

DEFAULT_DIR = REPO_ROOT / "var" / "mtls"
CA_NAME = "teei-mesh local CA"
CA_DAYS = 365
LEAF_DAYS = 30
# The seven services and Envoy's client identity towards them.
MESH_IDENTITIES = ("gateway", "profile", "kintell", "buddy", "upskilling", "q2q", "safety", "ratelimit", "edge")
_CLOCK_SKEW = dt.timedelta(minutes=5)
_ORGANISATION = x509.NameAttribute(NameOID.ORGANIZATION_NAME, "teei-mesh")


class CertError(Exception):
    """A certificate operation cannot run; the message says why and what to do."""


def init_ca(cert_dir: Path, *, days: int = CA_DAYS) -> x509.Certificate:
    """Creates the local CA (EC P-256, self-signed, CA:true pathlen 0) in `cert_dir`; refuses to replace one."""
    if certificates.ca_cert_path(cert_dir).exists() or certificates.key_path(cert_dir, "ca").exists():
        raise CertError(f"a CA already exists in {cert_dir}; replacing it would invalidate every certificate")
    _check_days(days)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME), _ORGANISATION])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _make_dir(cert_dir)
    _write_atomically(certificates.key_path(cert_dir, "ca"), _key_pem(key), mode=0o600)
    _write_atomically(certificates.ca_cert_path(cert_dir), cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return cert


def issue(cert_dir: Path, name: str, *, days: int = LEAF_DAYS) -> x509.Certificate:
    """Issues `name`'s first key and certificate; refuses when it already has one (use rotate)."""
    _check_name(name)
    if certificates.cert_path(cert_dir, name).exists():
        raise CertError(f"{name} already has a certificate in {cert_dir}; use `teei certs rotate {name}`")
    return _issue(cert_dir, name, days)


def rotate(cert_dir: Path, name: str, *, days: int = LEAF_DAYS) -> x509.Certificate:
    """Replaces `name`'s key and certificate with fresh ones of the same SPIFFE identity."""
    _check_name(name)
    path = certificates.cert_path(cert_dir, name)
    if not path.exists():
        raise CertError(f"{name} has no certificate in {cert_dir}; use `teei certs issue {name}`")
    current, expected = certificates.spiffe_id_of(x509.load_pem_x509_certificate(path.read_bytes())), spiffe_id(name)
    if current != expected:
        raise CertError(f"{path} carries identity {current!r}, not {expected!r}; refusing to rotate")
    return _issue(cert_dir, name, days)


def issue_all(cert_dir: Path, *, days: int = LEAF_DAYS) -> list[str]:
    """Issues a certificate to every mesh identity that has none; returns the names issued."""
    missing = [name for name in MESH_IDENTITIES if not certificates.cert_path(cert_dir, name).exists()]
    for name in missing:
        _issue(cert_dir, name, days)
    return missing


def ensure(cert_dir: Path, *, renew_within: dt.timedelta = dt.timedelta(days=7)) -> list[str]:
    """What `teei up` needs: a CA, and a valid certificate per mesh identity; returns the names (re)issued."""
    if not certificates.ca_cert_path(cert_dir).exists():
        init_ca(cert_dir)
    issued = issue_all(cert_dir)
    deadline = dt.datetime.now(dt.UTC) + renew_within
    for name in MESH_IDENTITIES:
        cert = x509.load_pem_x509_certificate(certificates.cert_path(cert_dir, name).read_bytes())
        if name not in issued and cert.not_valid_after_utc < deadline:
            rotate(cert_dir, name)
            issued.append(name)
    return issued


def _issue(cert_dir: Path, name: str, days: int) -> x509.Certificate:
    _check_days(days)
    ca_cert, ca_key = _load_ca(cert_dir)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    # A leaf never outlives its issuer: verifiers would reject the chain after the CA expires anyway.
    not_after = min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name), _ORGANISATION]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(_subject_alternative_name(name), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    # Key first, then certificate: a reader between the two sees a mismatched pair, which
    # services.kit.security.certificates refuses, so it keeps serving the previous pair until both are in place.
    _write_atomically(certificates.key_path(cert_dir, name), _key_pem(key), mode=0o600)
    _write_atomically(certificates.cert_path(cert_dir, name), cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return cert


def _subject_alternative_name(name: str) -> x509.SubjectAlternativeName:
    # Exactly one URI (the SPIFFE ID); localhost and 127.0.0.1 let TLS hostname checks pass on loopback.
    return x509.SubjectAlternativeName(
        [
            x509.UniformResourceIdentifier(spiffe_id(name)),
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
        ]
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _load_ca(cert_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate(certificates.ca_cert_path(cert_dir).read_bytes())
        key = serialization.load_pem_private_key(certificates.key_path(cert_dir, "ca").read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise CertError(f"no CA in {cert_dir}; run `teei certs init` first") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertError(f"{certificates.key_path(cert_dir, 'ca')} is not an EC private key")
    return cert, key


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _check_name(name: str) -> None:
    if not certificates.NAME_PATTERN.fullmatch(name) or name == "ca":
        raise CertError(f"{name!r} is not a workload name (lower-case letters, digits, '-', at most 63, not 'ca')")


def _check_days(days: int) -> None:
    if not 1 <= days <= CA_DAYS * 10:
        raise CertError(f"validity of {days} days is out of range (1..{CA_DAYS * 10})")


def _make_dir(cert_dir: Path) -> None:
    cert_dir.mkdir(parents=True, exist_ok=True)
    cert_dir.chmod(0o700)


def _write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    """Writes a temporary file beside `path` with `mode` from the start, then renames it over `path`."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(descriptor, mode)  # the umask may have narrowed the mode: make it exact
        os.write(descriptor, data)
        os.fsync(descriptor)
    except BaseException:
        os.close(descriptor)
        temporary.unlink(missing_ok=True)
        raise
    os.close(descriptor)
    os.replace(temporary, path)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds `certs init|issue|rotate` to the `teei` command."""
    certs = subparsers.add_parser("certs", help="local CA and per-service certificates for mesh mTLS")
    certs.set_defaults(run=run)
    actions = certs.add_subparsers(dest="certs_action", required=True)
    init = actions.add_parser("init", help="create the local CA")
    init.add_argument("--days", type=int, default=CA_DAYS, help="CA validity in days")
    issue_cmd = actions.add_parser("issue", help="issue a service certificate")
    target = issue_cmd.add_mutually_exclusive_group(required=True)
    target.add_argument("name", nargs="?", help="workload name, e.g. profile")
    target.add_argument("--all", action="store_true", help="every mesh identity that has no certificate yet")
    rotate_cmd = actions.add_parser("rotate", help="replace a service's key and certificate")
    rotate_cmd.add_argument("name", help="workload name, e.g. profile")
    for action in (init, issue_cmd, rotate_cmd):
        action.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="certificate folder")
    for action in (issue_cmd, rotate_cmd):
        action.add_argument("--days", type=int, default=LEAF_DAYS, help="certificate validity in days")


def run(args: argparse.Namespace) -> int:
    """Runs the parsed `certs` subcommand; returns the process exit code."""
    cert_dir: Path = args.dir
    try:
        if args.certs_action == "init":
            _report("CA", init_ca(cert_dir, days=args.days))
        elif args.certs_action == "rotate":
            _report(args.name, rotate(cert_dir, args.name, days=args.days))
        elif args.all:
            issued = issue_all(cert_dir, days=args.days)
            print(f"teei certs: issued {', '.join(issued) or 'nothing (every identity has a certificate)'}")
        else:
            _report(args.name, issue(cert_dir, args.name, days=args.days))
    except CertError as exc:
        print(f"teei certs: {exc}", file=sys.stderr)
        return 1
    return 0


def _report(what: str, cert: x509.Certificate) -> None:
    identity = certificates.spiffe_id_of(cert) or cert.subject.rfc4514_string()
    print(f"teei certs: {what}: {identity} serial {cert.serial_number:x} until {cert.not_valid_after_utc:%Y-%m-%d}")
