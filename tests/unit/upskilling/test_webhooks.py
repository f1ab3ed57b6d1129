"""Webhook deliveries: stored once per (company, provider, event id), events in the same transaction,
no backward moves, tenant isolation."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from services.kit.connectors import payloads
from services.kit.connectors.deliveries import Ack
from services.kit.messaging import events
from services.upskilling import handlers, queries
from services.upskilling.domain.commands import GetProgress, ListCredentials, ListProgress, ReceiveWebhook
from services.upskilling.domain.errors import InvalidRequest, InvalidWebhook, ProgressNotFound
from services.upskilling.domain.model import Progress, ProgressStatus, Provider
from services.upskilling.repository import SqlUpskillingUnitOfWork
from teei.common.v1 import types_pb2
from teei.upskilling.v1 import events_pb2, upskilling_pb2
from tests.unit.upskilling import support

PROGRESS, COMPLETED, CREDENTIAL = (
    "upskilling.progress.updated",
    "upskilling.course.completed",
    "upskilling.credential.issued",
)


def _send(uow: SqlUpskillingUnitOfWork, provider: str, data: dict[str, Any], tenant: str = "acme") -> Ack:
    return handlers.receive_webhook(ReceiveWebhook(tenant, provider, support.body(data)), uow=uow)


def _records(uow: SqlUpskillingUnitOfWork, tenant: str = "acme") -> list[Progress]:
    return queries.list_progress(ListProgress(tenant), uow=uow)[0]


def test_an_ecornell_lifecycle_stores_one_record_and_emits_each_event_once(
    uow: SqlUpskillingUnitOfWork, engine: sa.Engine
) -> None:
    for number, event_type in enumerate(("enrollment.created", "course.started", "course.completed")):
        _send(uow, "ecornell", support.ecornell(event_type, event_id=f"ec-{number}"))
    _send(uow, "ecornell", support.ecornell("certificate.issued", event_id="ec-9"))
    assert support.pending_types(engine) == [PROGRESS, PROGRESS, PROGRESS, COMPLETED, CREDENTIAL]
    [record] = _records(uow)
    assert (record.status, record.percent, record.learner.email) == (ProgressStatus.COMPLETED, 100, "ada@example.org")
    credentials, _ = queries.list_credentials(ListCredentials("acme", email="ADA@example.org"), uow=uow)
    assert [c.external_credential_id for c in credentials] == ["CERT-9"]


def test_events_carry_the_learner_identity_tenant_and_provenance(
    uow: SqlUpskillingUnitOfWork, engine: sa.Engine
) -> None:
    _send(uow, "ecornell", support.ecornell("course.started"))
    _send(uow, "ecornell", support.ecornell("course.completed", event_id="ec-2"))
    envelopes = support.pending(engine)
    updated, completed = events.payload_of(envelopes[1]), events.payload_of(envelopes[2])
    assert isinstance(updated, events_pb2.ProgressUpdated)
    assert isinstance(completed, events_pb2.CourseCompleted)
    assert (updated.previous_status, updated.status) == (
        upskilling_pb2.PROGRESS_STATUS_IN_PROGRESS,
        upskilling_pb2.PROGRESS_STATUS_COMPLETED,
    )
    assert (completed.learner.email, completed.learner.external_id) == ("ada@example.org", "u-42")
    assert (completed.learner.given_name, completed.course_id) == ("Ada", "PY101")
    assert completed.provenance.channel == types_pb2.INGEST_CHANNEL_WEBHOOK
    assert completed.provenance.delivery_id == "ec-2"
    assert {e.tenant for e in envelopes} == {"acme"}
    assert envelopes[2].subject == completed.progress_id == updated.progress_id


def test_a_replayed_delivery_is_acknowledged_as_duplicate_and_changes_nothing(
    uow: SqlUpskillingUnitOfWork, engine: sa.Engine
) -> None:
    data = support.itslearning("CourseCompletion")
    assert _send(uow, "itslearning", data) == Ack("it-1", duplicate=False)
    before = (support.pending_types(engine), _records(uow))
    assert _send(uow, "itslearning", data) == Ack("it-1", duplicate=True)
    assert (support.pending_types(engine), _records(uow)) == before
    assert before[0] == [PROGRESS, COMPLETED, CREDENTIAL]


def test_the_same_event_id_in_another_company_is_that_company_s_own_delivery(
    uow: SqlUpskillingUnitOfWork, engine: sa.Engine
) -> None:
    data = support.generic("in_progress")
    _send(uow, "generic", data, tenant="acme")
    assert _send(uow, "generic", data, tenant="globex").duplicate is False
    [acme], [globex] = _records(uow, "acme"), _records(uow, "globex")
    assert acme.progress_id != globex.progress_id
    with pytest.raises(ProgressNotFound):
        queries.get_progress(GetProgress("globex", acme.progress_id), uow=uow)
    assert [e.tenant for e in support.pending(engine)] == ["acme", "globex"]


def test_a_backward_move_is_acknowledged_ignored_and_its_reason_kept(
    uow: SqlUpskillingUnitOfWork, engine: sa.Engine
) -> None:
    _send(uow, "ecornell", support.ecornell("course.completed", event_id="late-1"))
    before = support.pending_types(engine)
    ack = _send(uow, "ecornell", support.ecornell("course.started", event_id="early-0"))
    assert ack.duplicate is False
    assert support.pending_types(engine) == before
    assert _records(uow)[0].status is ProgressStatus.COMPLETED
    with uow.begin(company_id="acme") as repo:
        outcome = repo.delivery_outcome(Provider.ECORNELL, "early-0")
    assert outcome == ("ignored", "status completed does not move back to in_progress")


def test_a_later_delivery_with_only_the_provider_user_id_updates_the_same_record(
    uow: SqlUpskillingUnitOfWork,
) -> None:
    _send(uow, "itslearning", support.itslearning("CourseEnrollment"))
    _send(uow, "itslearning", support.itslearning("CourseProgress", event_id="it-2", userEmail=None))
    [record] = _records(uow)
    assert (record.status, record.learner.email, record.learner.external_id) == (
        ProgressStatus.IN_PROGRESS,
        "grace@example.org",
        "7781",
    )


def test_generic_providers_are_told_apart_by_name(uow: SqlUpskillingUnitOfWork) -> None:
    _send(uow, "generic", support.generic("in_progress", provider="Coursera"))
    _send(uow, "generic", support.generic("in_progress", event_id="g-2", provider="Udemy"))
    assert sorted(r.course.provider_name for r in _records(uow)) == ["coursera", "udemy"]


def test_a_repeated_certificate_under_a_new_event_id_is_not_announced_again(
    uow: SqlUpskillingUnitOfWork, engine: sa.Engine
) -> None:
    _send(uow, "ecornell", support.ecornell("certificate.issued", event_id="c-1"))
    _send(uow, "ecornell", support.ecornell("certificate.issued", event_id="c-2"))
    assert support.pending_types(engine) == [CREDENTIAL]


def test_an_unknown_provider_is_refused_naming_the_field(uow: SqlUpskillingUnitOfWork) -> None:
    with pytest.raises(InvalidRequest) as refused:
        _send(uow, "coursera", support.generic("in_progress"))
    assert [v.field for v in refused.value.violations] == ["provider"]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b'{"pad": "' + b"x" * payloads.MAX_BYTES + b'"}',
        b"not json",
        support.body(support.ecornell("course.started", user={"email": "x"})),
    ],
)
def test_refused_deliveries_store_nothing_so_a_corrected_resend_is_accepted(
    uow: SqlUpskillingUnitOfWork, engine: sa.Engine, raw: bytes
) -> None:
    with pytest.raises(InvalidWebhook):
        handlers.receive_webhook(ReceiveWebhook("acme", "ecornell", raw), uow=uow)
    assert (support.pending_types(engine), _records(uow)) == ([], [])
    assert _send(uow, "ecornell", support.ecornell("course.started")).duplicate is False


def test_the_signed_webhook_id_keys_the_delivery_not_the_event_id(
    uow: SqlUpskillingUnitOfWork, engine: sa.Engine
) -> None:
    body = support.body(support.ecornell("course.completed"))

    def deliver(message_id: str, provider: str = "ecornell") -> Ack:
        return handlers.receive_webhook(ReceiveWebhook("acme", provider, body, message_id), uow=uow)

    assert deliver("msg_1") == Ack("msg_1", duplicate=False)
    assert deliver("msg_2") == Ack("msg_2", duplicate=False)  # same event id "ec-1", another delivery
    assert deliver("msg_1") == Ack("msg_1", duplicate=True)
    assert support.pending_types(engine) == [PROGRESS, COMPLETED]
    [record] = _records(uow)
    assert record.source.delivery_id == "msg_1"
