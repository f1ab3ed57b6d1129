"""Configured limits: per descriptor key a default and per-value overrides, within one RLS domain.

The limits file is validated by pydantic models (`LimitsDocument`); errors are worded for someone
editing the file and name the offending entry (`descriptors.tenant.default.unit: …`).
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

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
    try:
        return LimitsDocument.model_validate(document).limits()
    except ValidationError as exc:
        raise LimitsConfigError("; ".join(_describe(exc.errors()))) from None


# --- the file as written ----------------------------------------------------------------------------


def _says(message: str) -> WrapValidator:
    """Words a value pydantic refuses as `message` ({given}: the value as written), for the file's editor."""

    def reword(value: object, handler: ValidatorFunctionWrapHandler) -> object:
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError("limits", message.replace("{given}", repr(value))) from None

    return WrapValidator(reword)


def _non_empty_mapping(value: object) -> object:
    if not isinstance(value, dict) or not value:
        raise PydanticCustomError("limits", "expected a non-empty mapping")
    return value


def _mapping_or_nothing(value: object) -> object:
    if value is not None and not isinstance(value, dict):
        raise PydanticCustomError("limits", "expected a mapping")
    return {} if value is None else value


_UNITS = tuple(unit.name.lower() for unit in Unit)
Name = Annotated[str, StringConstraints(pattern=r"\S"), _says("{given} is not a non-empty name")]
RequestsPerUnit = Annotated[
    int, Field(ge=1, le=MAX_REQUESTS_PER_UNIT), _says(f"expected an integer 1..{MAX_REQUESTS_PER_UNIT}")
]
UnitName = Annotated[
    str,
    StringConstraints(pattern=f"(?i)^({'|'.join(_UNITS)})$"),
    _says(f"expected one of {', '.join(_UNITS)}, got {{given}}"),
]


class _Entry(BaseModel):
    """An entry of the file: a non-empty mapping of exactly the declared keys, values of exactly their type."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _is_a_non_empty_mapping(cls, value: object) -> object:
        return _non_empty_mapping(value)


class LimitSpec(_Entry):
    """`{requests_per_unit: 100, unit: minute}`; the unit's name in any case."""

    requests_per_unit: RequestsPerUnit
    unit: UnitName

    def limit(self, name: str) -> Limit:
        """The limit this entry sets, called `name`."""
        return Limit(requests_per_unit=self.requests_per_unit, unit=Unit[self.unit.upper()], name=name)


class KeyRules(_Entry):
    """The rules of one descriptor key: a default, overrides by value, or both."""

    # `default:` left empty is a mistake, not "no default": only a missing key means none.
    default: Annotated[LimitSpec | None, BeforeValidator(_non_empty_mapping)] = None
    overrides: Annotated[dict[Name, LimitSpec], BeforeValidator(_mapping_or_nothing)] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _limits_something(self) -> KeyRules:
        if self.default is None and not self.overrides:
            raise PydanticCustomError("limits", "give a default or at least one override")
        return self

    def key_limits(self, key: str) -> KeyLimits:
        """The limits of `key`. The name reaches clients in RateLimit headers, so it names the rule,
        never the value."""
        default = None if self.default is None else self.default.limit(key)
        overrides = {value: spec.limit(f"{key} override") for value, spec in self.overrides.items()}
        return KeyLimits(default=default, overrides=overrides)


class LimitsDocument(_Entry):
    """The limits file: `version: 1`, the RLS `domain`, and the rules per descriptor key."""

    version: Annotated[Literal[1], _says("expected 1, got {given}")]
    domain: Name
    descriptors: Annotated[dict[Name, KeyRules], BeforeValidator(_mapping_or_nothing)] = Field(default_factory=dict)

    def limits(self) -> Limits:
        """The limits this document configures."""
        return Limits(domain=self.domain, keys={key: rules.key_limits(key) for key, rules in self.descriptors.items()})


def _describe(errors: list[ErrorDetails]) -> list[str]:
    """One message per wrong entry, naming it; unknown and missing keys of one mapping are reported together."""
    keys: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"unknown": [], "missing": []})
    messages: list[str] = []
    for error in errors:
        loc = [str(part) for part in error["loc"]]
        if error["type"] in ("extra_forbidden", "missing"):
            keys[_where(loc[:-1])]["unknown" if error["type"] == "extra_forbidden" else "missing"].append(loc[-1])
        else:  # a refused key of `descriptors` or `overrides` is named by its mapping
            messages.append(f"{_where(loc[:-2] if loc[-1:] == ['[key]'] else loc)}: {error['msg']}")
    return [
        f"{where}: unknown keys {sorted(k['unknown'])}, missing keys {sorted(k['missing'])}"
        for where, k in keys.items()
    ] + messages


def _where(loc: list[str]) -> str:
    return ".".join(loc) or "limits"
