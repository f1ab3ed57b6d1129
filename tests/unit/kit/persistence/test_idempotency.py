"""Idempotency-Key rules: key syntax, request fingerprints, which RPCs are mutating, and the claim store."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa

from services.kit import errors
from services.kit.persistence import db, idempotency
from services.kit.persistence.idempotency import (
    Claimed,
    Completed,
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    Scope,
)
from teei.buddy.v1 import buddy_pb2
from teei.gateway.v1 import gateway_pb2
from teei.kintell.v1 import kintell_pb2
from teei.profile.v1 import profile_pb2
from teei.q2q.v1 import q2q_pb2
from teei.safety.v1 import safety_pb2
from teei.upskilling.v1 import upskilling_pb2

CREATE = "/teei.profile.v1.ProfileService/CreateProfile"
PRIVACY = {"ExportSubjectData", "EraseSubjectData"}
# Every RPC of the seven services that takes an Idempotency-Key: not GET, not public, unary.
MUTATING: dict[ModuleType, set[str]] = {
    profile_pb2: {
        "CreateProfile",
        "LinkExternalId",
        "MergeProfiles",
        "UpsertEnrolment",
        "SetJourneyFlag",
        "IncrementCounter",
        *PRIVACY,
    },
    kintell_pb2: {
        "ImportSessions",
        "ReceiveSessionCompleted",
        "ReceiveRatingCreated",
        "ReceiveBookingConfirmed",
        *PRIVACY,
    },
    buddy_pb2: {"ImportRecords", "ReceiveWebhook", *PRIVACY},
    upskilling_pb2: {"ImportRecords", "ReceiveWebhook", *PRIVACY},
    q2q_pb2: {"Classify", "ClassifyBatch", "RecordManualScore", *PRIVACY},
    safety_pb2: {"ScreenText", "DecideReview", *PRIVACY},
    # IssueToken is a POST but public: no caller to scope a key to.
    # RaiseDiagnosticError raises on purpose; its key only makes a retry raise the same error again.
    gateway_pb2: {"ExportOwnData", "DeleteOwnData", "ExportSubjectData", "DeleteSubjectData", "RaiseDiagnosticError"},
}


def _methods(module: ModuleType) -> Iterator[tuple[str, str]]:
    for service in module.DESCRIPTOR.services_by_name.values():
        for method in service.methods:
            yield method.name, f"/{service.full_name}/{method.name}"


@pytest.mark.parametrize("module", list(MUTATING), ids=lambda m: m.__name__)
def test_exactly_the_non_get_non_public_rpcs_of_each_service_are_mutating(module: ModuleType) -> None:
    found = {name for name, path in _methods(module) if idempotency.is_mutating(path)}
    assert found == MUTATING[module]


@pytest.mark.parametrize(
    "path",
    [
        "/teei.gateway.v1.GatewayService/IssueToken",
        "/teei.gateway.v1.GatewayService/GetJwks",
        "/teei.gateway.v1.GatewayService/SsoCallback",
        "/teei.profile.v1.ProfileService/GetProfile",
        "/teei.profile.v1.ProfileService/ListProfiles",
        "/teei.profile.v1.ProfileService/NoSuchRpc",
        "/teei.nothing.v1.Nothing/Create",
        "/grpc.health.v1.Health/Check",
    ],
)
def test_reads_public_and_unknown_rpcs_are_not_mutating(path: str) -> None:
    assert not idempotency.is_mutating(path)


@pytest.mark.parametrize("key", ["a", "order-2026-12-15/42", "x" * 255, "with space", "~!@#$%^&*()_+{}|:<>?"])
def test_printable_ascii_keys_of_1_to_255_characters_are_accepted(key: str) -> None:
    assert idempotency.validate_key(key) == key


@pytest.mark.parametrize("key", ["", "x" * 256, "clé", "tab\there", "line\nbreak", "del\x7f"])
def test_other_keys_are_invalid_arguments_naming_the_header(key: str) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        idempotency.validate_key(key)
    assert "Idempotency-Key" in caught.value.message
    assert [v.field for v in caught.value.violations] == ["Idempotency-Key"]


def _request(email: str, given: str = "Ada") -> profile_pb2.CreateProfileRequest:
    return profile_pb2.CreateProfileRequest(profile=profile_pb2.Profile(email=email, given_name=given))


def test_fingerprint_is_a_sha256_of_the_method_and_the_request() -> None:
    request = _request("ada@example.org")
    expected = hashlib.sha256(CREATE.encode() + b"\0" + request.SerializeToString(deterministic=True)).hexdigest()
    assert idempotency.fingerprint(CREATE, request) == expected
    assert idempotency.fingerprint(CREATE, _request("ada@example.org")) == expected


def test_fingerprint_ignores_the_order_fields_were_set_in() -> None:
    first = profile_pb2.Profile()
    first.email, first.given_name = "ada@example.org", "Ada"
    second = profile_pb2.Profile()
    second.given_name, second.email = "Ada", "ada@example.org"
    assert idempotency.fingerprint(CREATE, profile_pb2.CreateProfileRequest(profile=first)) == idempotency.fingerprint(
        CREATE, profile_pb2.CreateProfileRequest(profile=second)
    )


def test_fingerprint_differs_by_body_and_by_method() -> None:
    base = idempotency.fingerprint(CREATE, _request("ada@example.org"))
    assert base != idempotency.fingerprint(CREATE, _request("ada@example.org", given="Bea"))
    assert base != idempotency.fingerprint("/teei.profile.v1.ProfileService/Other", _request("ada@example.org"))


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 15, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """A clock the test moves."""
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[idempotency.IdempotencyStore]:
    """A store over a real SQLite table; completed answers live 1 h, claims 5 min."""
    engine = db.create_engine(db.sqlite_url(tmp_path / "keys.db"))
    idempotency.metadata.create_all(engine)
    try:
        yield idempotency.IdempotencyStore(engine, ttl=timedelta(hours=1), pending=timedelta(minutes=5), clock=clock)
    finally:
        engine.dispose()


SCOPE = Scope(tenant="acme", subject="user-1", method=CREATE, key="k-1")


def _claim(store: idempotency.IdempotencyStore, digest: str = "a" * 64, scope: Scope = SCOPE) -> Claimed:
    claimed = store.claim(scope, digest)
    assert isinstance(claimed, Claimed)
    return claimed


def test_a_completed_key_replays_its_answer_for_the_same_request(store: idempotency.IdempotencyStore) -> None:
    store.complete(_claim(store), b"answer")
    assert store.claim(SCOPE, "a" * 64) == Completed(b"answer")


def test_a_key_in_progress_or_reused_for_another_request_conflicts(store: idempotency.IdempotencyStore) -> None:
    claimed = _claim(store)
    with pytest.raises(IdempotencyKeyInProgress):
        store.claim(SCOPE, "a" * 64)
    with pytest.raises(IdempotencyKeyReused):
        store.claim(SCOPE, "b" * 64)
    store.complete(claimed, b"answer")
    with pytest.raises(IdempotencyKeyReused) as caught:
        store.claim(SCOPE, "b" * 64)
    assert caught.value.reason == "IDEMPOTENCY_KEY_REUSED"


def test_a_released_key_can_be_claimed_again_even_for_another_request(store: idempotency.IdempotencyStore) -> None:
    store.release(_claim(store))
    _claim(store, "b" * 64)


def test_keys_of_other_tenants_callers_and_rpcs_are_independent(store: idempotency.IdempotencyStore) -> None:
    _claim(store)
    for other in (
        Scope("globex", SCOPE.subject, SCOPE.method, SCOPE.key),
        Scope(SCOPE.tenant, "user-2", SCOPE.method, SCOPE.key),
        Scope(SCOPE.tenant, SCOPE.subject, "/teei.profile.v1.ProfileService/MergeProfiles", SCOPE.key),
    ):
        _claim(store, scope=other)


def test_an_abandoned_claim_is_taken_over_after_its_lease(store: idempotency.IdempotencyStore, clock: Clock) -> None:
    abandoned = _claim(store)
    clock.now += timedelta(minutes=5, seconds=1)
    taken = _claim(store, "b" * 64)
    # The late first call cannot overwrite the new owner's claim.
    store.complete(abandoned, b"late")
    store.release(abandoned)
    with pytest.raises(IdempotencyKeyInProgress):
        store.claim(SCOPE, "b" * 64)
    store.complete(taken, b"answer")
    assert store.claim(SCOPE, "b" * 64) == Completed(b"answer")


def test_a_completed_answer_expires_after_the_ttl(store: idempotency.IdempotencyStore, clock: Clock) -> None:
    store.complete(_claim(store), b"answer")
    clock.now += timedelta(minutes=59)
    assert store.claim(SCOPE, "a" * 64) == Completed(b"answer")
    clock.now += timedelta(minutes=2)
    _claim(store)
    with store.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(idempotency.table)).scalar_one() == 1
