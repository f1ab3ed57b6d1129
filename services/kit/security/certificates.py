"""Mutual TLS between services: certificate layout, credentials with hot reload, peer identity, trust policy."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import grpc
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from grpc_status import rpc_status

from services.kit import errors
from services.kit.grpc import status
from services.kit.grpc.interceptors import ScopedInterceptor
from services.kit.logs import get_logger
from services.kit.security import tenancy

log = get_logger(__name__)

TRUST_DOMAIN = "teei.local"
DEFAULT_POLICY = Path(__file__).resolve().parents[3] / "mtls" / "trust-policy.yaml"
NAME_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,62}")
_RPC_NAME = re.compile(r"[A-Z][A-Za-z0-9]{0,99}")
_HEALTH_PREFIX = "/grpc.health.v1.Health/"
_MAX_POLICY_BYTES = 64 * 1024


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
def _identity_of_pem(pem: bytes) -> str | None:
    return spiffe_id_of(x509.load_pem_x509_certificate(pem))


def peer_identity(context: grpc.aio.ServicerContext[Any, Any]) -> str | None:
    """The SPIFFE ID of the caller's verified client certificate, or None without one.

    grpc puts the leaf certificate in `x509_pem_cert` only after verifying its chain against the
    server's trust roots, so reading the SAN from it is reading a verified identity.
    """
    pems = context.auth_context().get("x509_pem_cert")
    if not pems:
        return None
    return _identity_of_pem(next(iter(pems)))


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


def server_credentials(cert_dir: Path, name: str) -> grpc.ServerCredentials:
    """Server credentials fixed at start: present `name`'s certificate, require a CA-signed client certificate."""
    pair = read_pair(cert_dir, name)
    return grpc.ssl_server_credentials([(pair.key, pair.cert)], root_certificates=pair.ca, require_client_auth=True)


def reloading_server_credentials(cert_dir: Path, name: str) -> grpc.ServerCredentials:
    """Like server_credentials, but new connections pick up rotated files without a restart."""
    reloader = CertificateReloader(cert_dir, name)
    # grpc treats a None answer as "unchanged"; its type stub only declares the configuration.
    fetcher = cast("Callable[[], grpc.ServerCertificateConfiguration]", reloader)
    return grpc.dynamic_ssl_server_credentials(reloader.initial(), fetcher, require_client_authentication=True)


def channel_credentials(cert_dir: Path, name: str) -> grpc.ChannelCredentials:
    """Client credentials of `name`: present its certificate, trust only the mesh CA."""
    pair = read_pair(cert_dir, name)
    return grpc.ssl_channel_credentials(root_certificates=pair.ca, private_key=pair.key, certificate_chain=pair.cert)


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


class PolicyError(ValueError):
    """The trust policy file is malformed; the message names the offending entry."""


@dataclass(frozen=True)
class TrustPolicy:
    """Which workload identities may call which service (every RPC of it)."""

    trust_domain: str
    identities: frozenset[str]
    callers: Mapping[str, frozenset[str]]
    # service → caller → RPC names the caller may call on its own, acting for a tenant (no end user's token)
    acting: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)

    def may_act(self, service: str, identity: str | None, method: str) -> bool:
        """True when `identity` may call RPC `method` ('/pkg.Service/Name') of `service` for a tenant on its own."""
        name = None if identity is None else workload_name(identity, self.trust_domain)
        granted = self.acting.get(service, {}).get(name or "", frozenset())
        return method.rsplit("/", 1)[-1] in granted

    def allows(self, service: str, identity: str | None) -> bool:
        """True when the SPIFFE ID `identity` may call `service`."""
        name = None if identity is None else workload_name(identity, self.trust_domain)
        return name is not None and name in self.callers.get(service, frozenset())

    def is_member(self, identity: str | None) -> bool:
        """True for any well-formed workload identity of this trust domain."""
        return identity is not None and workload_name(identity, self.trust_domain) is not None


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate mapping keys instead of keeping the last one."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    keys = [loader.construct_object(key) for key, _ in node.value]
    duplicates = sorted({str(k) for k in keys if keys.count(k) > 1})
    if duplicates:
        raise PolicyError(f"duplicate keys: {', '.join(duplicates)}")
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def load_policy(path: Path = DEFAULT_POLICY) -> TrustPolicy:
    """Reads and validates the trust policy; raises PolicyError naming what is wrong."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read: {exc}") from exc
    if len(raw) > _MAX_POLICY_BYTES:
        raise PolicyError(f"{path}: larger than {_MAX_POLICY_BYTES} bytes")
    try:
        document = yaml.load(raw, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from exc
    return parse_policy(document)


def parse_policy(document: object) -> TrustPolicy:
    """Validates an already-parsed policy document."""
    top = _mapping(document, "policy", required={"version", "trust_domain", "identities", "services"})
    if top["version"] != 1:
        raise PolicyError(f"version: expected 1, got {top['version']!r}")
    if top["trust_domain"] != TRUST_DOMAIN:
        raise PolicyError(f"trust_domain: certificates are issued for {TRUST_DOMAIN!r}, got {top['trust_domain']!r}")
    identities = frozenset(_described_names(top["identities"], "identities"))
    services = _mapping(top["services"], "services")
    callers: dict[str, frozenset[str]] = {}
    acting: dict[str, dict[str, frozenset[str]]] = {}
    for service, grants in services.items():
        where = f"services.{service}"
        _known(service, identities, where)
        entries = _grants(grants, where)
        for caller, methods in entries.items():
            _known(caller, identities, f"{where}.{caller}")
            if methods:
                acting.setdefault(str(service), {})[caller] = methods
        callers[str(service)] = frozenset(entries)
    return TrustPolicy(trust_domain=TRUST_DOMAIN, identities=identities, callers=callers, acting=acting)


def _grants(value: object, where: str) -> dict[str, frozenset[str]]:
    """caller → reason, or caller → {why: reason, acts_for_tenant: [RPC names]}; returns caller → those RPCs."""
    entries = _mapping(value, where)
    found: dict[str, frozenset[str]] = {}
    for name, grant in entries.items():
        if not isinstance(grant, dict):
            _described_names({name: grant}, where)
            found[name] = frozenset()
            continue
        here = f"{where}.{name}"
        detail = _mapping(grant, here, required={"why", "acts_for_tenant"})
        _described_names({name: detail["why"]}, where)
        methods = detail["acts_for_tenant"]
        if (
            not isinstance(methods, list)
            or not methods
            or not all(isinstance(m, str) and _RPC_NAME.fullmatch(m) for m in methods)
        ):
            raise PolicyError(f"{here}.acts_for_tenant: expected a non-empty list of RPC names (e.g. ScreenText)")
        found[name] = frozenset(methods)
    return found


def _mapping(value: object, where: str, *, required: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    if not isinstance(value, dict) or not value:
        raise PolicyError(f"{where}: expected a non-empty mapping")
    if required and set(value) != set(required):
        missing, unknown = sorted(set(required) - set(value)), sorted(map(str, set(value) - set(required)))
        raise PolicyError(f"{where}: missing keys {missing}, unknown keys {unknown}")
    return value


def _described_names(value: object, where: str) -> list[str]:
    """A mapping of workload name → non-empty reason; returns the names."""
    entries = _mapping(value, where)
    for name, reason in entries.items():
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            raise PolicyError(f"{where}: {name!r} is not a workload name ({NAME_PATTERN.pattern})")
        if not isinstance(reason, str) or not reason.strip():
            raise PolicyError(f"{where}.{name}: give the reason for this entry as text")
    return list(entries)


def _known(name: object, identities: frozenset[str], where: str) -> None:
    if name not in identities:
        raise PolicyError(f"{where}: {name!r} is not a declared identity")


class TrustPolicyInterceptor(ScopedInterceptor):
    """Refuses callers whose verified identity the policy does not allow to call this service.

    Health checks are open to any member of the trust domain, so probes need no grant. A mesh
    service (any caller but the edge, which carries end users' tokens) must also present a service
    token signed with its certificate's key and meant for this service (`servicetokens`).
    """

    def __init__(self, policy: TrustPolicy, service_name: str, *, edge: frozenset[str] = frozenset({"edge"})) -> None:
        if service_name not in policy.callers:
            raise PolicyError(f"services: no entry for {service_name!r}; every served service needs one")
        self._policy, self._service, self._edge = policy, service_name, edge

    @asynccontextmanager
    async def scope(
        self, details: grpc.HandlerCallDetails, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        identity = peer_identity(context)
        is_health = details.method.startswith(_HEALTH_PREFIX)
        if not (self._policy.is_member(identity) if is_health else self._policy.allows(self._service, identity)):
            await self._refuse(identity, details.method, context)
        if is_health or identity is None or workload_name(identity) in self._edge:
            yield
            return
        caller = await self._check_service_token(identity, details.method, context)
        with tenancy.verified_caller(caller):
            yield

    async def _check_service_token(
        self, identity: str, method: str, context: grpc.aio.ServicerContext[Any, Any]
    ) -> tenancy.ServiceCaller:
        from services.kit.security import servicetokens  # noqa: PLC0415 - servicetokens builds on this module
        from services.kit.security.auth import TokenRejected  # noqa: PLC0415

        metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        token = metadata.get(servicetokens.HEADER)
        pem = next(iter(context.auth_context().get("x509_pem_cert", ())), b"")
        try:
            if not token:
                raise TokenRejected("SERVICE_TOKEN_MISSING", "internal calls carry a service token")
            return servicetokens.verify(token, pem, callee=self._service)
        except TokenRejected as exc:
            log.warning("mtls.service_token_rejected", caller=identity, rpc_method=method, reason=exc.reason)
            await context.abort_with_status(
                rpc_status.to_status(status.to_rpc_status(exc, domain=f"{self._service}.teei"))
            )
            raise  # abort_with_status raises; this line is never reached

    async def _refuse(self, identity: str | None, method: str, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        log.warning("mtls.denied", caller=identity, rpc_method=method, service=self._service)
        error: errors.DomainError = (
            errors.Unauthenticated("no verified mesh identity on this connection")
            if identity is None
            else errors.PermissionDenied(f"{identity} may not call {self._service}")
        )
        await context.abort_with_status(
            rpc_status.to_status(status.to_rpc_status(error, domain=f"{self._service}.teei"))
        )
