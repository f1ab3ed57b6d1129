"""Limits config: the shipped file parses, lookups pick overrides over defaults, malformed files are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.ratelimit.domain.errors import LimitsConfigError
from services.ratelimit.domain.limits import Limit, Unit, parse_limits
from services.ratelimit.domain.query import Descriptor
from services.ratelimit.settings import DEFAULT_LIMITS, load_limits

DOCUMENT: dict[str, Any] = {
    "version": 1,
    "domain": "teei",
    "descriptors": {
        "tenant": {
            "default": {"requests_per_unit": 100, "unit": "minute"},
            "overrides": {"bigcorp": {"requests_per_unit": 500, "unit": "minute"}},
        },
        "remote_address": {"default": {"requests_per_unit": 10, "unit": "second"}},
        "client": {"overrides": {"batch-importer": {"requests_per_unit": 3, "unit": "HOUR"}}},
    },
}


def one(key: str, value: str) -> Descriptor:
    return Descriptor(entries=((key, value),))


def test_shipped_limits_file_parses_and_limits_the_three_edge_descriptors() -> None:
    limits = load_limits(DEFAULT_LIMITS)
    assert limits.domain == "teei"
    assert set(limits.keys) == {"tenant", "client", "remote_address"}
    assert all(limits.limit_for("teei", one(key, "x")) is not None for key in limits.keys)


def test_override_wins_over_default_for_its_value_only() -> None:
    limits = parse_limits(DOCUMENT)
    assert limits.limit_for("teei", one("tenant", "bigcorp")) == Limit(500, Unit.MINUTE, "tenant override")
    assert limits.limit_for("teei", one("tenant", "acme")) == Limit(100, Unit.MINUTE, "tenant")
    assert limits.limit_for("teei", one("remote_address", "10.0.0.1")) == Limit(10, Unit.SECOND, "remote_address")


def test_unit_names_are_case_insensitive() -> None:
    limit = parse_limits(DOCUMENT).limit_for("teei", one("client", "batch-importer"))
    assert limit is not None
    assert limit.unit is Unit.HOUR


@pytest.mark.parametrize(
    ("domain", "descriptor"),
    [
        ("teei", one("client", "someone-else")),  # key with overrides only, value not listed
        ("teei", one("header_match", "x")),  # unknown key
        ("other", one("tenant", "acme")),  # another domain
        ("teei", Descriptor(entries=(("tenant", "acme"), ("client", "c")))),  # several entries
    ],
)
def test_descriptors_without_a_configured_limit_are_not_limited(domain: str, descriptor: Descriptor) -> None:
    assert parse_limits(DOCUMENT).limit_for(domain, descriptor) is None


def test_a_file_without_descriptors_limits_nothing() -> None:
    limits = parse_limits({"version": 1, "domain": "teei"})
    assert limits.limit_for("teei", one("tenant", "acme")) is None


def _with(**changes: Any) -> dict[str, Any]:
    tenant = {"default": {"requests_per_unit": 100, "unit": "minute"}}
    return {"version": 1, "domain": "teei", "descriptors": {"tenant": {**tenant, **changes}}}


def _limit(**fields: Any) -> dict[str, Any]:
    return _with(default={"requests_per_unit": 100, "unit": "minute", **fields})


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (None, "limits: expected a non-empty mapping"),
        ([1, 2], "limits: expected a non-empty mapping"),
        ({"version": 2, "domain": "teei"}, "version: expected 1"),
        ({"version": 1}, "missing keys ['domain']"),
        ({"version": 1, "domain": "teei", "limits": {}}, "unknown keys ['limits']"),
        ({"version": 1, "domain": ""}, "domain: '' is not a non-empty name"),
        ({"version": 1, "domain": "teei", "descriptors": ["tenant"]}, "descriptors: expected a mapping"),
        ({"version": 1, "domain": "teei", "descriptors": {"tenant": {}}}, "descriptors.tenant: expected a non-empty"),
        (_with(default=None, overrides={}), "descriptors.tenant.default: expected a non-empty mapping"),
        ({"version": 1, "domain": "teei", "descriptors": {"tenant": {"overrides": {}}}}, "give a default or at least"),
        (_with(burst=5), "descriptors.tenant: unknown keys ['burst']"),
        (_with(overrides={"": {"requests_per_unit": 1, "unit": "second"}}), "tenant.overrides: '' is not a non-empty"),
        (_limit(requests_per_unit=0), "default.requests_per_unit: expected an integer 1..4294967295"),
        (_limit(requests_per_unit=-3), "default.requests_per_unit: expected an integer"),
        (_limit(requests_per_unit=True), "default.requests_per_unit: expected an integer"),
        (_limit(requests_per_unit="100"), "default.requests_per_unit: expected an integer"),
        (_limit(requests_per_unit=2**32), "default.requests_per_unit: expected an integer"),
        (_limit(unit="fortnight"), "default.unit: expected one of second, minute, hour, day, got 'fortnight'"),
        (_limit(unit=60), "default.unit: expected one of"),
        (_limit(window=3), "tenant.default: unknown keys ['window']"),
        (_with(default={"unit": "minute"}), "missing keys ['requests_per_unit']"),
    ],
)
def test_malformed_documents_are_refused_naming_the_entry(document: object, message: str) -> None:
    with pytest.raises(LimitsConfigError) as raised:
        parse_limits(document)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1\ndomain: teei\ndomain: other\n", "duplicate keys: domain"),
        ("version: 1\ndomain: [teei\n", "not valid YAML"),
        ("version: 1\ndomain: teei\ndescriptors:\n  tenant:\n    default: {unit: minute}\n", "requests_per_unit"),
    ],
)
def test_malformed_files_are_refused_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "limits.yaml"
    path.write_text(text)
    with pytest.raises(LimitsConfigError) as raised:
        load_limits(path)
    assert str(path) in str(raised.value)
    assert message in str(raised.value)


def test_missing_and_oversized_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(LimitsConfigError, match="cannot read"):
        load_limits(tmp_path / "absent.yaml")
    huge = tmp_path / "huge.yaml"
    huge.write_text("# padding\n" * 30_000)
    with pytest.raises(LimitsConfigError, match="larger than"):
        load_limits(huge)
