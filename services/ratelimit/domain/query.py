"""One ShouldRateLimit question as plain values, and the rules a well-formed one keeps."""

from __future__ import annotations

from dataclasses import dataclass

from services.kit.errors import FieldViolation
from services.ratelimit.domain.errors import MalformedRateLimitRequest

MAX_DESCRIPTORS = 16
MAX_ENTRIES = 8
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 512


@dataclass(frozen=True)
class Descriptor:
    """One descriptor: ordered (key, value) entries, counted `hits` times (Envoy's hits_addend, at least 1)."""

    entries: tuple[tuple[str, str], ...]
    hits: int = 1


@dataclass(frozen=True)
class RateLimitQuery:
    """Should this request be limited? Asked by Envoy for one domain with one descriptor per action."""

    domain: str
    descriptors: tuple[Descriptor, ...]


def validate(query: RateLimitQuery) -> None:
    """Raises MalformedRateLimitRequest naming every broken rule of `query`."""
    violations: list[FieldViolation] = []
    if not query.domain:
        violations.append(FieldViolation("domain", "the rate-limit domain must not be empty"))
    if not query.descriptors:
        violations.append(FieldViolation("descriptors", "give at least one descriptor"))
    if len(query.descriptors) > MAX_DESCRIPTORS:
        violations.append(FieldViolation("descriptors", f"at most {MAX_DESCRIPTORS} descriptors"))
    for index, descriptor in enumerate(query.descriptors[:MAX_DESCRIPTORS]):
        violations.extend(_descriptor_violations(descriptor, f"descriptors[{index}]"))
    if violations:
        raise MalformedRateLimitRequest("the rate-limit request is malformed", violations=violations)


def _descriptor_violations(descriptor: Descriptor, where: str) -> list[FieldViolation]:
    if not descriptor.entries:
        return [FieldViolation(f"{where}.entries", "a descriptor needs at least one entry")]
    if len(descriptor.entries) > MAX_ENTRIES:
        return [FieldViolation(f"{where}.entries", f"at most {MAX_ENTRIES} entries per descriptor")]
    violations = []
    for index, (key, value) in enumerate(descriptor.entries):
        if not key or len(key) > MAX_KEY_CHARS:
            violations.append(FieldViolation(f"{where}.entries[{index}].key", f"1 to {MAX_KEY_CHARS} characters"))
        if not value or len(value) > MAX_VALUE_CHARS:
            violations.append(FieldViolation(f"{where}.entries[{index}].value", f"1 to {MAX_VALUE_CHARS} characters"))
    return violations
