"""Every served service seals and opens event payloads with the shared events key store, installed by the
kit's server (no service's own code): under `teei up` the one file var/keystore/events.db, removed at stop;
refused in a cluster that requires key stores but names no shared events key store."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.kit.config import ConfigError, ServiceConfig
from services.kit.messaging import sealed_events
from services.kit.security.pii.keystore import KEYSTORE_DIR
from services.kit.testing import running
from services.profile import bootstrap as profile_bootstrap


async def test_a_served_service_has_the_shared_events_cipher_until_it_stops(service_config: ServiceConfig) -> None:
    assert sealed_events.installed() is None
    async with running(profile_bootstrap.build(service_config)):
        cipher = sealed_events.installed()
        assert cipher is not None
        assert (service_config.var_dir / KEYSTORE_DIR / "events.db").exists()
        assert cipher.keys.key_for("acme", "p-1").key_id
    assert sealed_events.installed() is None


def test_a_cluster_requiring_key_stores_must_name_the_shared_events_one(tmp_path: Path) -> None:
    required = ServiceConfig(grpc_port=0, var_dir=tmp_path, pii_keystore_required=True, pii_keyring="{}")
    with pytest.raises(ConfigError, match="TEEI_EVENTS_KEYSTORE_URL"):
        sealed_events.cipher_for(required)
    url = f"sqlite:///{tmp_path / 'shared-events.db'}"
    configured = ServiceConfig(grpc_port=0, var_dir=tmp_path, events_keystore_url=url)
    cipher = sealed_events.cipher_for(configured)
    try:
        assert cipher.keys.key_for("acme", "p-1").key_id
    finally:
        cipher.close()
    assert (tmp_path / "shared-events.db").exists()
