"""The edge's authentication, authorisation and rate-limit policy, generated from the contracts.

Each RPC declares its access rule in its proto (`(teei.common.v1.access)`); this module reads the
rules from the descriptor set Envoy transcodes with and turns them, with the role table
`services.kit.security.auth.ROLE_PERMISSIONS`, into `jwt_authn` rules, an RBAC policy and rate-limit actions.
Every rule is written against the gRPC method path, which the transcoder produces for REST calls,
so REST and native gRPC share one policy. An RPC without a rule is denied.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor, descriptor_pb2, descriptor_pool

from services.kit.security.access import AccessRule, rule_of
from services.kit.security.auth import ROLE_PERMISSIONS

JWT_FILTER = "envoy.filters.http.jwt_authn"
PROVIDER = "teei"
# Dynamic-metadata keys the jwt_authn filter writes under JWT_FILTER.
PAYLOAD_KEY = "jwt_payload"
FAILURE_KEY = "jwt_failure"
HTTP_BODY = "google.api.HttpBody"
BULK_UPLOAD_PREFIX = "Import"

Json = dict[str, Any]
_VARIABLE = re.compile(r"\{([^}=]+)(?:=([^}]*))?\}")
_HTTP_VERBS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class MethodPolicy:
    """The edge's view of one RPC: its gRPC path, access rule and REST path patterns (RE2)."""

    path: str
    rule: AccessRule | None
    bulk_upload: bool = False
    rest_patterns: tuple[str, ...] = ()

    @property
    def service_prefix(self) -> str:
        """'/pkg.Service/' of the method."""
        return self.path.rsplit("/", 1)[0] + "/"


def load_method_policies(
    descriptor_set: Path, services: Iterable[str], extra_rules: Mapping[str, AccessRule] | None = None
) -> tuple[MethodPolicy, ...]:
    """One policy per method of `services` found in the descriptor set, plus `extra_rules`
    (gRPC path → rule) for methods outside it; sorted by path."""
    found: dict[str, MethodPolicy] = {}
    for method in methods_of(descriptor_pool_of(descriptor_set), services):
        policy = _method_policy(method)
        found[policy.path] = policy
    for path, rule in (extra_rules or {}).items():
        found[path] = MethodPolicy(path=path, rule=rule)
    return tuple(found[path] for path in sorted(found))


def methods_of(pool: descriptor_pool.DescriptorPool, services: Iterable[str]) -> Iterator[descriptor.MethodDescriptor]:
    """Every method of the named services the pool holds (names it lacks are skipped)."""
    for name in services:
        try:
            service = pool.FindServiceByName(name)
        except KeyError:
            continue
        yield from service.methods


def descriptor_pool_of(descriptor_set: Path) -> descriptor_pool.DescriptorPool:
    """The messages and services of a descriptor set file."""
    pool = descriptor_pool.DescriptorPool()
    for proto in descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes()).file:
        pool.Add(proto)
    return pool


def _method_policy(method: descriptor.MethodDescriptor) -> MethodPolicy:
    bindings = http_bindings(method)
    return MethodPolicy(
        path=f"/{method.containing_service.full_name}/{method.name}",
        rule=rule_of(method),
        bulk_upload=method.name.startswith(BULK_UPLOAD_PREFIX) and any(raw_body(method, b) for b in bindings),
        rest_patterns=tuple(rest_pattern(_template(b)) for b in bindings),
    )


def http_bindings(method: descriptor.MethodDescriptor) -> list[http_pb2.HttpRule]:
    """The method's google.api.http rule and its additional bindings."""
    options = descriptor_pb2.MethodOptions.FromString(method.GetOptions().SerializeToString())
    if not options.HasExtension(annotations_pb2.http):
        return []
    rule = options.Extensions[annotations_pb2.http]
    return [rule, *rule.additional_bindings]


def _template(binding: http_pb2.HttpRule) -> str:
    kind = binding.WhichOneof("pattern")
    if kind == "custom":
        return str(binding.custom.path)
    return str(getattr(binding, kind or "get"))


def raw_body(method: descriptor.MethodDescriptor, binding: http_pb2.HttpRule) -> bool:
    """Whether the binding hands the request body over as raw bytes (google.api.HttpBody)."""
    field = method.input_type.fields_by_name.get(binding.body)
    return field is not None and field.message_type is not None and field.message_type.full_name == HTTP_BODY


def rest_pattern(template: str) -> str:
    """An RE2 pattern matching the paths of a google.api.http path template."""
    parts: list[str] = []
    position = 0
    for match in _VARIABLE.finditer(template):
        parts.append(re.escape(template[position : match.start()]))
        parts.append(_segments_pattern(match.group(2) or "*"))
        position = match.end()
    parts.append(re.escape(template[position:]))
    return "".join(parts)


def _segments_pattern(segments: str) -> str:
    pieces = []
    for segment in segments.split("/"):
        if segment == "**":
            pieces.append(".+")
        elif segment == "*":
            pieces.append("[^/]+")
        else:
            pieces.append(re.escape(segment))
    return "/".join(pieces)


def service_prefixes(policies: Iterable[MethodPolicy], services: Iterable[str]) -> list[str]:
    """'/pkg.Service/' of every routed service and of every method with a policy."""
    return sorted({f"/{name}/" for name in services} | {p.service_prefix for p in policies})


def public_paths(policies: Iterable[MethodPolicy]) -> list[str]:
    """gRPC paths of the RPCs anyone may call."""
    return [p.path for p in policies if p.rule is not None and p.rule.public]


def jwt_rules(policies: Sequence[MethodPolicy], prefixes: Iterable[str]) -> list[Json]:
    """jwt_authn rules: public RPCs need no token, every other path of a routed service needs a valid one.

    Paths outside the routed services end at the edge itself (health, 404, 405, redirects).
    """
    public: list[Json] = [{"match": {"path": path}} for path in public_paths(policies)]
    protected: list[Json] = [
        {"match": {"prefix": prefix}, "requires": {"provider_name": PROVIDER}} for prefix in prefixes
    ]
    return public + protected


def roles_holding(permission: str, role_permissions: Mapping[str, frozenset[str]] = ROLE_PERMISSIONS) -> list[str]:
    """Roles whose permission set contains `permission`, sorted."""
    return sorted(role for role, held in role_permissions.items() if permission in held)


def _claim_matcher(claim: str, value: str) -> Json:
    return {
        "sourced_metadata": {
            "metadata_matcher": {
                "filter": JWT_FILTER,
                "path": [{"key": PAYLOAD_KEY}, {"key": claim}],
                "value": {"string_match": {"exact": value}},
            }
        }
    }


def _exact_paths(paths: Iterable[str]) -> list[Json]:
    return [{"url_path": {"path": {"exact": path}}} for path in paths]


def rbac_policies(
    policies: Sequence[MethodPolicy],
    prefixes: Iterable[str],
    role_permissions: Mapping[str, frozenset[str]] = ROLE_PERMISSIONS,
) -> dict[str, Json]:
    """RBAC ALLOW policies by name; a request no policy allows is denied.

    * `public`: the public RPCs, for anyone;
    * `edge_local`: paths outside every routed service (answered by the edge itself), for anyone;
    * `permission_<name>`: the RPCs requiring that permission, for tokens whose `role` claim holds it.
    """
    named: dict[str, Json] = {}
    public = public_paths(policies)
    if public:
        named["public"] = {"permissions": _exact_paths(public), "principals": [{"any": True}]}
    routed = [{"url_path": {"path": {"prefix": prefix}}} for prefix in prefixes]
    named["edge_local"] = {
        "permissions": [{"not_rule": {"or_rules": {"rules": routed}}} if routed else {"any": True}],
        "principals": [{"any": True}],
    }
    for permission, paths in sorted(_paths_by_permission(policies).items()):
        roles = roles_holding(permission, role_permissions)
        if roles:  # a permission no role holds: nobody gets through the edge
            named[permission.lower()] = {
                "permissions": _exact_paths(paths),
                "principals": [_claim_matcher("role", role) for role in roles],
            }
    return named


def _paths_by_permission(policies: Iterable[MethodPolicy]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for policy in policies:
        if policy.rule is not None and not policy.rule.public and policy.rule.permission:
            grouped.setdefault(policy.rule.permission, []).append(policy.path)
    return grouped


def rbac_config(
    policies: Sequence[MethodPolicy],
    prefixes: Iterable[str],
    role_permissions: Mapping[str, frozenset[str]] = ROLE_PERMISSIONS,
) -> Json:
    """The typed config of the authorisation RBAC filter."""
    return {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
        "rules": {"action": "ALLOW", "policies": rbac_policies(policies, prefixes, role_permissions)},
    }


def user_agent_block_config(blocked: Sequence[str]) -> Json | None:
    """A DENY RBAC config refusing requests whose User-Agent contains a blocked name (any case)."""
    if not blocked:
        return None
    agents = [
        {"header": {"name": "user-agent", "string_match": {"contains": name, "ignore_case": True}}} for name in blocked
    ]
    return {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
        "rules": {
            "action": "DENY",
            "policies": {"blocked_user_agent": {"permissions": [{"any": True}], "principals": agents}},
        },
    }


def _claim_descriptor(descriptor_key: str, claim: str) -> Json:
    return {
        "actions": [
            {
                "metadata": {
                    "descriptor_key": descriptor_key,
                    "metadata_key": {"key": JWT_FILTER, "path": [{"key": PAYLOAD_KEY}, {"key": claim}]},
                    # No default and no skip_if_absent: without the claim the descriptor is not sent.
                    "source": "DYNAMIC",
                }
            }
        ]
    }


_RATELIMIT_ACTIONS: dict[str, Json] = {
    "tenant": _claim_descriptor("tenant", "company"),
    "client": _claim_descriptor("client", "sub"),
    "remote_address": {"actions": [{"remote_address": {}}]},
}


def ratelimit_actions(
    keys: Sequence[str] = ("tenant", "client", "remote_address"), stage: int | None = None
) -> list[Json]:
    """One descriptor per key (domain "teei"), each of one entry, from verified sources only:
    `tenant` = the token's `company`, `client` = its `sub` (both absent without a verified token), and
    `remote_address` = the peer address (x-forwarded-for is not trusted by the edge). `stage` selects
    the rate-limit filter that reads them (the global filter is stage 0, the local one stage 1)."""
    staged = {} if stage is None else {"stage": stage}
    return [{**staged, **_RATELIMIT_ACTIONS[key]} for key in keys]
