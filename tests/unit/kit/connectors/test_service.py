"""A connector that keeps people: its parts are built under its name with its personal fields sealed, its
privacy RPCs export and erase by its subject map over its database, and its service sweeps again whatever
an import re-created about a person the platform erased."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import orm

from services.kit.config import ServiceConfig
from services.kit.connectors.service import Connector, ConnectorParts
from services.kit.grpc.server import Registration
from services.kit.messaging import erasures
from services.kit.persistence import db
from services.kit.persistence.subjects import SubjectMap
from services.kit.security import pii, webhooks

MAP = SubjectMap(service="test", holdings=())


def _seal_nothing(session: orm.Session, cipher: pii.PiiCipher) -> int:
    return 0


CONNECTOR = Connector("test", Path("migrations"), _seal_nothing, MAP)


@pytest.fixture
def built(tmp_path: Path) -> Iterator[ConnectorParts]:
    engine = db.create_engine(db.sqlite_url(tmp_path / "test.db"))
    config = ServiceConfig(grpc_port=0, var_dir=tmp_path / "var")
    parts = CONNECTOR.parts(config, engine=engine, webhook_secrets=webhooks.FileSecrets(tmp_path / "secrets.json"))
    yield parts
    assert parts.cipher is not None
    parts.cipher.close()
    engine.dispose()


def test_the_parts_are_the_connectors_on_the_given_engine_with_its_fields_sealed(built: ConnectorParts) -> None:
    assert built.name == "test"
    assert built.uow.engine is built.engine
    assert built.cipher is not None
    assert built.maintenance is not None


def test_the_subjects_are_its_subject_map_over_its_database(built: ConnectorParts) -> None:
    subjects = CONNECTOR.subjects(built)
    assert (subjects.uow, subjects.mapping) == (built.uow, MAP)


def test_the_service_serves_the_registration_and_sweeps_erased_subjects(built: ConnectorParts) -> None:
    registration = Registration("teei.test.v1.TestService", lambda servicer, server: None, object())
    service = CONNECTOR.service(built, registration, max_message_bytes=1234)
    assert (service.name, service.registrations, service.max_message_bytes) == ("test", [registration], 1234)
    [subscription] = service.subscriptions
    assert (subscription.consumer, subscription.event_types) == (
        erasures.consumer_name("test"),
        (erasures.EVENT_TYPE,),
    )
    assert service.engine is built.engine
