"""The data-subject request's state machine: received → in_progress → completed | failed, never completed
while a service has not confirmed, the gateway's own part last, failed once overdue or refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.gateway.domain import privacy as dsr
from services.gateway.domain.errors import PrivacyRequestSettled

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SUBJECT = dsr.DataSubject("acme", "p-1", "ada@example.org")
SERVICES = ("profile", "kintell", dsr.GATEWAY)


def _received() -> dsr.PrivacyRequest:
    return dsr.receive(
        request_id="r-1", kind=dsr.RequestKind.ERASURE, subject=SUBJECT, requested_by="admin-1", reason="DSR-7",
        own=False, now=NOW, services=SERVICES,
    )  # fmt: skip


def _running() -> dsr.PrivacyRequest:
    return dsr.start(_received())


def test_a_request_is_received_with_every_part_pending_and_due_in_30_days() -> None:
    request = _received()
    assert request.status is dsr.RequestStatus.RECEIVED
    assert request.due_at == NOW + timedelta(days=30)
    assert [o.status for o in request.outcomes] == [dsr.PartStatus.PENDING] * 3
    assert request.next_attempt_at() == NOW


def test_start_moves_received_to_in_progress_and_is_repeatable() -> None:
    running = _running()
    assert running.status is dsr.RequestStatus.IN_PROGRESS
    assert dsr.start(running) == running


def test_the_gateway_part_waits_until_every_other_service_confirmed() -> None:
    running = _running()
    assert running.next_parts(NOW) == ["profile", "kintell"]
    one = dsr.confirm(running, "profile", dsr.Answer(found=2, erased=2), now=NOW)
    assert one.next_parts(NOW) == ["kintell"]
    both = dsr.confirm(one, "kintell", dsr.Answer(found=1, erased=1), now=NOW)
    assert both.status is dsr.RequestStatus.IN_PROGRESS
    assert both.next_parts(NOW) == [dsr.GATEWAY]


def test_completed_only_once_every_part_confirmed() -> None:
    request = _running()
    for service in SERVICES:
        assert request.status is not dsr.RequestStatus.COMPLETED
        request = dsr.confirm(request, service, dsr.Answer(found=1, erased=1), now=NOW)
    assert request.status is dsr.RequestStatus.COMPLETED
    assert request.completed_at == NOW
    assert request.next_attempt_at() is None
    assert dsr.confirmed_services(request) == list(SERVICES)


def test_an_unreachable_service_stays_pending_with_its_attempts_and_next_try() -> None:
    later = NOW + timedelta(seconds=5)
    request = dsr.postpone(_running(), "kintell", "kintell answered UNAVAILABLE", retry_at=later, now=NOW)
    part = request.outcome("kintell")
    assert request.status is dsr.RequestStatus.IN_PROGRESS
    assert (part.status, part.attempts, part.error) == (dsr.PartStatus.PENDING, 1, "kintell answered UNAVAILABLE")
    assert request.next_parts(NOW) == ["profile"]
    assert request.next_parts(later) == ["profile", "kintell"]
    confirmed = dsr.confirm(request, "kintell", dsr.Answer(found=3, erased=3), now=later)
    assert confirmed.outcome("kintell").attempts == 2
    assert confirmed.outcome("kintell").error == ""


def test_a_refusal_fails_the_request_once_no_other_service_is_running() -> None:
    refused = dsr.refuse(_running(), "profile", "profile answered PERMISSION_DENIED", now=NOW)
    assert refused.status is dsr.RequestStatus.IN_PROGRESS  # kintell still runs
    failed = dsr.confirm(refused, "kintell", dsr.Answer(found=1, erased=1), now=NOW)
    assert failed.status is dsr.RequestStatus.FAILED
    assert failed.outcome(dsr.GATEWAY).status is dsr.PartStatus.PENDING  # the gateway never ran


def test_a_request_still_unconfirmed_at_its_due_date_fails() -> None:
    due = NOW + dsr.DUE_AFTER
    request = dsr.postpone(_running(), "kintell", "down", retry_at=due, now=due)
    assert request.status is dsr.RequestStatus.FAILED


def test_a_settled_request_refuses_further_steps() -> None:
    failed = dsr.refuse(dsr.refuse(_running(), "profile", "no", now=NOW), "kintell", "no", now=NOW)
    assert failed.settled
    with pytest.raises(PrivacyRequestSettled):
        dsr.confirm(failed, "kintell", dsr.Answer(found=0), now=NOW)
    with pytest.raises(PrivacyRequestSettled):
        dsr.start(failed)
