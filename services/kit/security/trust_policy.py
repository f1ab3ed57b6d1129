"""The mesh trust policy (`mtls/trust-policy.yaml`): which workload may call which service, and act for a tenant."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from services.kit import yamlfiles
from services.kit.security.certificates import NAME_PATTERN, workload_name

DEFAULT_POLICY = Path(__file__).resolve().parents[3] / "mtls" / "trust-policy.yaml"
_MAX_POLICY_BYTES = 64 * 1024
_RPC_PATTERN = r"^[A-Z][A-Za-z0-9]{0,99}$"

WorkloadName = Annotated[str, StringConstraints(pattern=f"^{NAME_PATTERN.pattern}$")]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
RpcName = Annotated[str, StringConstraints(pattern=_RPC_PATTERN)]


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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ActingGrant(_Strict):
    """A grant that also lets the caller call `acts_for_tenant` RPCs for a tenant with no end user's token."""

    why: Reason
    acts_for_tenant: Annotated[list[RpcName], Field(min_length=1)]


_GRANT_FORMS = ("reason", "acting")


def _grant_form(value: object) -> str:
    return "acting" if isinstance(value, dict) else "reason"


# A grant is a reason, or {why, acts_for_tenant}; the tag keeps errors naming the form that was meant.
Grant = Annotated[Annotated[Reason, Tag("reason")] | Annotated[ActingGrant, Tag("acting")], Discriminator(_grant_form)]
Grants = Annotated[dict[WorkloadName, Grant], Field(min_length=1)]


class PolicyDocument(_Strict):
    """The policy file as written: identities with their reasons, and each service's granted callers."""

    version: Literal[1]
    trust_domain: Literal["teei.local"]  # certificates.TRUST_DOMAIN: `teei certs` issues for no other
    identities: Annotated[dict[WorkloadName, Reason], Field(min_length=1)]
    services: Annotated[dict[WorkloadName, Grants], Field(min_length=1)]

    @model_validator(mode="after")
    def _names_are_declared(self) -> PolicyDocument:
        for service, grants in self.services.items():
            entries = {f"services.{service}": service} | {f"services.{service}.{caller}": caller for caller in grants}
            for where, name in entries.items():
                if name not in self.identities:
                    raise PydanticCustomError("undeclared", f"{where}: {name!r} is not a declared identity")
        return self

    def policy(self) -> TrustPolicy:
        """The policy this document grants, as the lookups the interceptor makes."""
        acting = {
            service: {
                caller: frozenset(g.acts_for_tenant) for caller, g in grants.items() if isinstance(g, ActingGrant)
            }
            for service, grants in self.services.items()
        }
        return TrustPolicy(
            trust_domain=self.trust_domain,
            identities=frozenset(self.identities),
            callers={service: frozenset(grants) for service, grants in self.services.items()},
            acting={service: grants for service, grants in acting.items() if grants},
        )


def load_policy(path: Path = DEFAULT_POLICY) -> TrustPolicy:
    """Reads and validates the trust policy; raises PolicyError naming what is wrong."""
    try:
        document = yamlfiles.read(path, max_bytes=_MAX_POLICY_BYTES)
    except yamlfiles.YamlFileError as exc:
        raise PolicyError(str(exc)) from exc
    return parse_policy(document)


def parse_policy(document: object) -> TrustPolicy:
    """Validates an already-parsed policy document."""
    try:
        return PolicyDocument.model_validate(document).policy()
    except ValidationError as exc:
        raise PolicyError("; ".join(_describe(error) for error in exc.errors())) from exc


def _describe(error: ErrorDetails) -> str:
    """One validation error in the policy's own words, naming the entry."""
    if error["type"] == "undeclared":
        return error["msg"]
    loc = [str(part) for part in error["loc"]]
    if loc[:1] == ["services"] and len(loc) > 3 and loc[3] in _GRANT_FORMS:
        del loc[3]  # the tag of the grant's form is not part of the file
    where, phrase = _phrase(error, loc)
    return f"{'.'.join(where) or 'policy'}: {phrase}"


# pydantic's error types in the words of someone editing the policy file
_PHRASES = {
    "model_type": "expected a non-empty mapping",
    "dict_type": "expected a non-empty mapping",
    "too_short": "expected a non-empty mapping",
    "string_type": "give the reason for this entry as text",
    "string_too_short": "give the reason for this entry as text",
}


def _phrase(error: ErrorDetails, loc: list[str]) -> tuple[list[str], str]:
    kind = error["type"]
    if kind in ("missing", "extra_forbidden"):
        return loc[:-1], f"{'missing' if kind == 'missing' else 'unknown'} keys [{loc[-1]!r}]"
    if "acts_for_tenant" in loc:
        return loc[: loc.index("acts_for_tenant") + 1], "expected a non-empty list of RPC names (e.g. ScreenText)"
    if loc[-1:] == ["[key]"]:
        return loc[:-2], f"{error['input']!r} is not a workload name ({NAME_PATTERN.pattern})"
    if kind == "literal_error":
        return loc, f"expected {error.get('ctx', {}).get('expected')}, got {error['input']!r}"
    return loc, _PHRASES.get(kind, error["msg"])
