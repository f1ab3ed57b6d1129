"""Fixtures of the profile gRPC tests: the running service's own database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from services.kit.config import ServiceConfig
from services.kit.persistence import db
from services.profile import bootstrap
from tests.integration.profile.support import Stub


@pytest.fixture
def engine(service_config: ServiceConfig, profiles: Stub) -> Iterator[sa.Engine]:
    """The running service's own database, to check audit rows and the outbox."""
    engine = db.create_engine(db.database_url(service_config, bootstrap.NAME))
    yield engine
    engine.dispose()
