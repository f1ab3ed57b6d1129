"""Configured limits: per descriptor key a default and per-value overrides, within one RLS domain."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.ratelimit.domain.errors import LimitsConfigError
from services.ratelimit.domain.query import Descriptor

MAX_REQUESTS_PER_UNIT = 2**32 - 1  # the RLS API carries limits as uint32


class Unit(enum.Enum):
    """A fixed-window length; names match `RateLimitResponse.RateLimit.Unit`, values are seconds."""

    SECOND = 1
    MINUTE = 60
    HOUR = 3600
    DAY = 86400

    @property
    def seconds(self) -> int:
        """The window length in seconds."""
        return int(self.value)


@dataclass(frozen=True)
class Limit:
    """At most `requests_per_unit` hits per fixed window of one `unit`; `name` says which rule it is."""

    requests_per_unit: int
    unit: Unit
    name: str


@dataclass(frozen=True)
class KeyLimits:
    """The limits of one descriptor key: a default (optional) and overrides by value."""

    default: Limit | None = None
    overrides: Mapping[str, Limit] = field(default_factory=dict)

    def for_value(self, value: str) -> Limit | None:
        """The override for `value`, else the default, else None (not limited)."""
        return self.overrides.get(value, self.default)


@dataclass(frozen=True)
class Limits:
    """Every configured limit of one RLS domain."""

    domain: str
    keys: Mapping[str, KeyLimits] = field(default_factory=dict)

    def limit_for(self, domain: str, descriptor: Descriptor) -> Limit | None:
        """The limit of `descriptor`; None (not limited) for another domain, an unknown key, or a
        descriptor of several entries (limits are configured per single key)."""
        if domain != self.domain or len(descriptor.entries) != 1:
            return None
        key, value = descriptor.entries[0]
        rules = self.keys.get(key)
        return None if rules is None else rules.for_value(value)


def parse_limits(document: object) -> Limits:
    """Validates a parsed limits document; raises LimitsConfigError naming what is wrong."""
    top = _mapping(document, "limits", allowed={"version", "domain", "descriptors"}, required={"version", "domain"})
    if top["version"] != 1:
        raise LimitsConfigError(f"version: expected 1, got {top['version']!r}")
    domain = _name(top["domain"], "domain")
    descriptors = _mapping(top.get("descriptors", {}), "descriptors", allow_empty=True)
    keys = {_name(key, "descriptors"): _key_limits(rules, f"descriptors.{key}") for key, rules in descriptors.items()}
    return Limits(domain=domain, keys=keys)


def _key_limits(value: object, where: str) -> KeyLimits:
    rules = _mapping(value, where, allowed={"default", "overrides"})
    key = where.removeprefix("descriptors.")
    default = None if "default" not in rules else _limit(rules["default"], f"{where}.default", name=key)
    overrides = _mapping(rules.get("overrides", {}), f"{where}.overrides", allow_empty=True)
    by_value = {
        # The name reaches clients in RateLimit headers, so it names the rule, never the value.
        _name(v, f"{where}.overrides"): _limit(limit, f"{where}.overrides.{v}", name=f"{key} override")
        for v, limit in overrides.items()
    }
    if default is None and not by_value:
        raise LimitsConfigError(f"{where}: give a default or at least one override")
    return KeyLimits(default=default, overrides=by_value)


def _limit(value: object, where: str, *, name: str) -> Limit:
    spec = _mapping(value, where, allowed={"requests_per_unit", "unit"}, required={"requests_per_unit", "unit"})
    count = spec["requests_per_unit"]
    if isinstance(count, bool) or not isinstance(count, int) or not 0 < count <= MAX_REQUESTS_PER_UNIT:
        raise LimitsConfigError(f"{where}.requests_per_unit: expected an integer 1..{MAX_REQUESTS_PER_UNIT}")
    unit = spec["unit"]
    names = [u.name.lower() for u in Unit]
    if not isinstance(unit, str) or unit.lower() not in names:
        raise LimitsConfigError(f"{where}.unit: expected one of {', '.join(names)}, got {unit!r}")
    return Limit(requests_per_unit=count, unit=Unit[unit.upper()], name=name)


def _mapping(
    value: object,
    where: str,
    *,
    allowed: set[str] | None = None,
    required: set[str] | frozenset[str] = frozenset(),
    allow_empty: bool = False,
) -> dict[Any, Any]:
    if value is None and allow_empty:
        return {}
    if not isinstance(value, dict) or (not value and not allow_empty):
        raise LimitsConfigError(f"{where}: expected a {'' if allow_empty else 'non-empty '}mapping")
    unknown = sorted(map(str, set(value) - allowed)) if allowed is not None else []
    missing = sorted(required - set(value))
    if unknown or missing:
        raise LimitsConfigError(f"{where}: unknown keys {unknown}, missing keys {missing}")
    return value


def _name(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise LimitsConfigError(f"{where}: {value!r} is not a non-empty name")
    return value
