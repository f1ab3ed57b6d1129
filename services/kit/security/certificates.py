"""Mesh certificates: where they live, the SPIFFE identity they carry, and reading them with hot reload."""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from services.kit.logs import get_logger

log = get_logger(__name__)

TRUST_DOMAIN = "teei.local"
NAME_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,62}")


def ca_cert_path(cert_dir: Path) -> Path:
    """The CA certificate every mesh member trusts."""
    return cert_dir / "ca.crt"


def cert_path(cert_dir: Path, name: str) -> Path:
    """The certificate of workload `name`."""
    return cert_dir / f"{name}.crt"


def key_path(cert_dir: Path, name: str) -> Path:
    """The private key of workload `name`."""
    return cert_dir / f"{name}.key"


def spiffe_id(name: str, trust_domain: str = TRUST_DOMAIN) -> str:
    """The SPIFFE ID of workload `name`: spiffe://<trust domain>/service/<name>."""
    return f"spiffe://{trust_domain}/service/{name}"


def workload_name(identity: str, trust_domain: str = TRUST_DOMAIN) -> str | None:
    """The workload name inside a SPIFFE ID of `trust_domain`, or None when it is not one."""
    prefix = spiffe_id("", trust_domain)
    if not identity.startswith(prefix):
        return None
    name = identity[len(prefix) :]
    return name if NAME_PATTERN.fullmatch(name) else None


def spiffe_id_of(cert: x509.Certificate) -> str | None:
    """The certificate's SPIFFE ID; None unless it carries exactly one URI SAN and that is a spiffe:// URI."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    # The X509-SVID rule: more than one URI SAN makes the identity ambiguous, so there is none.
    if len(uris) != 1 or not uris[0].startswith("spiffe://"):
        return None
    return uris[0]


@lru_cache(maxsize=256)
def identity_of_pem(pem: bytes) -> str | None:
    """The SPIFFE ID of a PEM certificate (cached: a peer presents the same one on every call)."""
    return spiffe_id_of(x509.load_pem_x509_certificate(pem))


@dataclass(frozen=True)
class KeyPair:
    """What one workload presents and trusts, as PEM bytes."""

    ca: bytes
    key: bytes
    cert: bytes


class CertificateMismatch(Exception):
    """The private key on disk does not belong to the certificate on disk."""


def read_pair(cert_dir: Path, name: str) -> KeyPair:
    """Reads `name`'s key, certificate and the CA; refuses a key that does not match the certificate."""
    pair = KeyPair(
        ca=ca_cert_path(cert_dir).read_bytes(),
        key=key_path(cert_dir, name).read_bytes(),
        cert=cert_path(cert_dir, name).read_bytes(),
    )
    public = serialization.load_pem_private_key(pair.key, password=None).public_key()
    if _spki(public) != _spki(x509.load_pem_x509_certificate(pair.cert).public_key()):
        raise CertificateMismatch(f"{key_path(cert_dir, name)} does not match {cert_path(cert_dir, name)}")
    return pair


def _spki(public_key: Any) -> bytes:
    return bytes(public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


class CertificateReloader:
    """grpc's certificate fetcher: called before each handshake, re-reads the files when they changed."""

    def __init__(self, cert_dir: Path, name: str) -> None:
        self._dir, self._name = cert_dir, name
        self._paths = (ca_cert_path(cert_dir), key_path(cert_dir, name), cert_path(cert_dir, name))
        self._seen: tuple[tuple[int, int, int], ...] | None = None
        self._lock = threading.Lock()

    def initial(self) -> grpc.ServerCertificateConfiguration:
        """The configuration at start; fails when the files are missing or do not match."""
        self._seen = self._signature()
        return self._configuration(read_pair(self._dir, self._name))

    def __call__(self) -> grpc.ServerCertificateConfiguration | None:
        with self._lock:
            try:
                signature = self._signature()
                if signature == self._seen:
                    return None
                pair = read_pair(self._dir, self._name)
            except (OSError, ValueError, CertificateMismatch) as exc:
                # Mid-rotation (key replaced, certificate not yet): keep serving the previous pair
                # and look again on the next handshake.
                log.warning("mtls.reload_deferred", workload=self._name, reason=str(exc))
                return None
            self._seen = signature
            log.info("mtls.reloaded", workload=self._name)
            return self._configuration(pair)

    def _signature(self) -> tuple[tuple[int, int, int], ...]:
        # The inode changes on os.replace even when mtime resolution hides a quick rewrite.
        stats = [os.stat(path) for path in self._paths]
        return tuple((s.st_ino, s.st_mtime_ns, s.st_size) for s in stats)

    @staticmethod
    def _configuration(pair: KeyPair) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration([(pair.key, pair.cert)], root_certificates=pair.ca)
