"""Access rules declared on each RPC by the `teei.common.v1.access` method option."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from google.protobuf import descriptor, descriptor_pool

from teei.common.v1 import access_pb2


@dataclass(frozen=True)
class AccessRule:
    """Who may call one RPC: the public, or holders of one permission."""

    public: bool
    permission: str | None


def split_method(method_path: str) -> tuple[str, str]:
    """'/pkg.Service/Method' → ('pkg.Service', 'Method')."""
    service, _, method = method_path.lstrip("/").partition("/")
    return service, method


@lru_cache(maxsize=1024)
def rule_for(method_path: str) -> AccessRule | None:
    """The declared rule of a `teei.*` RPC, or None when the RPC is unknown or declares none."""
    service_name, method_name = split_method(method_path)
    try:
        service = descriptor_pool.Default().FindServiceByName(service_name)
    except KeyError:
        return None
    method = service.methods_by_name.get(method_name)
    return None if method is None else rule_of(method)


def rule_of(method: descriptor.MethodDescriptor) -> AccessRule | None:
    """Reads the access option of one method descriptor."""
    options = method.GetOptions()
    if not options.HasExtension(access_pb2.access):
        return None
    rule = options.Extensions[access_pb2.access]
    kind = rule.WhichOneof("rule")
    if kind == "public" and rule.public:
        return AccessRule(public=True, permission=None)
    if kind == "permission" and rule.permission != access_pb2.PERMISSION_UNSPECIFIED:
        return AccessRule(public=False, permission=access_pb2.Permission.Name(rule.permission))
    return None


def is_platform_method(method_path: str) -> bool:
    """Health, reflection and the edge's rate-limit queries belong to the platform, not to a tenant;
    who may call them is decided by the mesh's trust policy alone."""
    return method_path.startswith(("/grpc.health.v1.", "/grpc.reflection.", "/envoy.service.ratelimit.v3."))
