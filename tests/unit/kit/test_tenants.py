"""The one tenant-id grammar: what the fixtures use is a tenant, nothing that could read as another one is."""

from __future__ import annotations

import pytest

from services.kit import tenants

NOT_TENANTS = [
    "",
    " ",
    "   ",
    "*",
    "%",
    "acme ",
    " acme",
    "acme\n",
    "Acme",
    "ACME",
    "-acme",
    "_acme",
    "ac me",
    "ac.me",
    "../acme",
    "acme\x00",
    "\uff41\uff43\uff4d\uff45",  # full-width letters that look like "acme"
    "a" * 64,
]


@pytest.mark.parametrize("tenant", ["acme", "globex", "initech", "t", "0", "tenant-a", "throttled_rest", "a" * 63])
def test_the_ids_the_platform_uses_are_tenants(tenant: str) -> None:
    assert tenants.is_tenant(tenant)
    assert tenants.check(tenant) == tenant


@pytest.mark.parametrize("value", [*NOT_TENANTS, None, 7, b"acme"])
def test_anything_else_is_not_a_tenant(value: object) -> None:
    assert not tenants.is_tenant(value)


@pytest.mark.parametrize("value", NOT_TENANTS)
def test_check_names_the_field_it_came_in(value: str) -> None:
    with pytest.raises(tenants.InvalidTenant) as refused:
        tenants.check(value, field="company_id")
    assert refused.value.message == f"company_id must be {tenants.GRAMMAR}"
    assert [v.field for v in refused.value.violations] == ["company_id"]
