"""The trust-policy interceptor: what it needs at start."""

from __future__ import annotations

import pytest

from services.kit.security import mtls, trust_policy


def test_interceptor_for_a_service_without_a_policy_entry_fails_at_start() -> None:
    with pytest.raises(trust_policy.PolicyError, match="no entry for 'billing'"):
        mtls.TrustPolicyInterceptor(trust_policy.load_policy(), "billing")
