"""Consumer-driven event contracts: every event type a consumer takes has one producer message and the
producer's published examples (contracts/events/); the examples parse strictly into the producer's
message, and every consumer's real handler applies them in its own migrated database, as the bus does."""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from google.api import field_behavior_pb2
from google.protobuf import descriptor, json_format, message, message_factory
from sqlalchemy import orm

from services.cli.spec import REPO_ROOT
from services.kit.config import ServiceConfig
from services.kit.grpc.server import Service
from services.kit.identity import normalise_email
from services.kit.messaging import erasures, events
from services.kit.messaging.eventbus import EventBus
from services.kit.persistence import subjects
from services.profile import bootstrap as profile_bootstrap
from services.profile import consumers as profile_consumers
from services.profile import privacy as profile_privacy
from services.profile.repository import SqlProfileRepository
from services.profile.tables import facts
from services.q2q import bootstrap as q2q_bootstrap
from services.q2q import consumers as q2q_consumers
from services.q2q import privacy as q2q_privacy
from services.q2q.domain.model import PendingState, SourceRef
from services.q2q.repository import SqlQ2qRepository
from services.q2q.wire import SOURCE_FROM_PROTO
from services.safety import bootstrap as safety_bootstrap
from services.safety import consumers as safety_consumers
from services.safety import privacy as safety_privacy
from services.safety.repository import SqlSafetyRepository
from teei.common.v1 import access_pb2, types_pb2
from teei.gateway.v1 import events_pb2 as gateway_events
from teei.gateway.v1 import gateway_pb2
from teei.q2q.v1 import events_pb2 as q2q_events
from teei.safety.v1 import events_pb2 as safety_events
from teei.safety.v1 import safety_pb2

GEN = REPO_ROOT / "gen" / "python"
CONTRACTS = REPO_ROOT / "contracts" / "events"
Example = dict[str, Any]
Effect = Callable[[orm.Session, events.Envelope, Any], None]


def _declared() -> dict[str, list[descriptor.Descriptor]]:
    """Event type → the generated messages declaring it with the (teei.common.v1.event_type) option."""
    found: dict[str, list[descriptor.Descriptor]] = {}
    for path in sorted(GEN.rglob("*_pb2.py")):
        module = importlib.import_module(".".join(path.relative_to(GEN).with_suffix("").parts))
        for kind in _all_messages(module.DESCRIPTOR.message_types_by_name.values()):
            options = kind.GetOptions()
            if options.HasExtension(access_pb2.event_type):
                found.setdefault(options.Extensions[access_pb2.event_type], []).append(kind)
    return found


def _all_messages(kinds: Iterable[descriptor.Descriptor]) -> Iterator[descriptor.Descriptor]:
    for kind in kinds:
        yield kind
        yield from _all_messages(kind.nested_types)


def _examples() -> dict[str, list[Example]]:
    """Event type (the file name) → its published examples (a file holds one object or a list)."""
    found: dict[str, list[Example]] = {}
    for path in sorted(CONTRACTS.glob("*.json")):
        loaded = json.loads(path.read_text(encoding="utf-8"))
        found[path.name.removesuffix(".json")] = loaded if isinstance(loaded, list) else [loaded]
    return found


DECLARED = _declared()
EXAMPLES = _examples()
# The consumers as their services wire them; a test below checks the built services agree.
SUBSCRIBED: dict[str, Sequence[events.Subscription]] = {
    "profile": profile_consumers.SUBSCRIPTIONS,
    "safety": safety_consumers.SUBSCRIPTIONS,
    "q2q": q2q_consumers.SUBSCRIPTIONS,
}
BUILDERS: dict[str, Callable[[ServiceConfig], Service]] = {
    "profile": profile_bootstrap.build,
    "safety": safety_bootstrap.build,
    "q2q": q2q_bootstrap.build,
}
SUBSCRIBED_TYPES = sorted({t for subscriptions in SUBSCRIBED.values() for s in subscriptions for t in s.event_types})
PAIRS = sorted({(name, t) for name, subs in SUBSCRIBED.items() for s in subs for t in s.event_types})
# Known consumer gaps, kept visible: strict, so the fix turns the case red until the entry goes.
# Consumer/type pairs known to accept a look-alike payload (none: `events.payload_of` refuses any
# payload whose message does not declare the envelope's type).
LOOK_ALIKE_GAPS: dict[tuple[str, str], str] = {}


def _message_class(event_type: str) -> type[message.Message]:
    return message_factory.GetMessageClass(DECLARED[event_type][0])


def _parse(event_type: str, example: Example) -> message.Message:
    """The example as the producer's message; unknown fields (a renamed or removed one) are refused."""
    return json_format.Parse(json.dumps(example), _message_class(event_type)(), ignore_unknown_fields=False)


def _missing_required(payload: message.Message, prefix: str = "") -> list[str]:
    """Paths of the fields marked (google.api.field_behavior) = REQUIRED that are not set, at any depth."""
    missing = []
    for field in payload.DESCRIPTOR.fields:
        path = prefix + field.name
        behaviours = field.GetOptions().Extensions[field_behavior_pb2.field_behavior]
        if field_behavior_pb2.REQUIRED in behaviours and not _is_set(payload, field):
            missing.append(path)
        if field.message_type is None or not _is_set(payload, field):
            continue
        value = getattr(payload, field.name)
        for item in value if field.is_repeated else [value]:
            if isinstance(item, message.Message):  # map entries iterate as keys and are skipped
                missing += _missing_required(item, f"{path}.")
    return missing


def _is_set(payload: message.Message, field: Any) -> bool:  # the stubs type upb's descriptors apart
    if field.is_repeated:
        return len(getattr(payload, field.name)) > 0
    if field.has_presence:
        return payload.HasField(field.name)
    return bool(getattr(payload, field.name) != field.default_value)


# --- (a) the declared types, the subscriptions and the example files agree -------------------------


def test_the_contracts_declare_event_types_and_consumers_subscribe() -> None:
    assert "kintell.session.completed" in DECLARED
    assert len(SUBSCRIBED_TYPES) >= 10


@pytest.mark.parametrize("event_type", SUBSCRIBED_TYPES)
def test_every_subscribed_type_is_declared_by_exactly_one_message(event_type: str) -> None:
    declaring = [kind.full_name for kind in DECLARED.get(event_type, [])]
    assert len(declaring) == 1, f"{event_type} is declared by {declaring or 'no message'}"


def test_no_event_type_is_declared_twice() -> None:
    duplicated = {t: [k.full_name for k in kinds] for t, kinds in DECLARED.items() if len(kinds) > 1}
    assert duplicated == {}


def test_every_declared_type_has_an_example_file() -> None:
    assert sorted(set(DECLARED) - set(EXAMPLES)) == []


def test_every_example_file_names_a_declared_type_and_holds_examples() -> None:
    assert sorted(set(EXAMPLES) - set(DECLARED)) == []
    assert all(examples and all(isinstance(e, dict) for e in examples) for examples in EXAMPLES.values())


def test_every_service_with_consumers_is_checked() -> None:
    with_consumers = sorted(path.parent.name for path in (REPO_ROOT / "services").glob("*/consumers.py"))
    assert with_consumers == sorted(SUBSCRIBED)


# --- (b) producer side: strict parse, required fields, canonical form ------------------------------

PRODUCER_CASES = [(t, i) for t, examples in EXAMPLES.items() for i in range(len(examples))]


@pytest.mark.parametrize(("event_type", "index"), PRODUCER_CASES, ids=[f"{t}[{i}]" for t, i in PRODUCER_CASES])
def test_example_parses_strictly_into_the_producer_message(event_type: str, index: int) -> None:
    example = EXAMPLES[event_type][index]
    payload = _parse(event_type, example)
    assert _missing_required(payload) == []
    assert events.event_type_of(payload) == event_type
    # Canonical proto3 JSON (as MessageToJson writes it): no default values, enum names, camelCase.
    assert json_format.MessageToDict(payload) == example


# --- (c) consumer side: the real handlers apply every example ----------------------------------------


@pytest.fixture(scope="module")
def consumer_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Service]]:
    """Each consumer service built as in production, its SQLite database migrated in a temporary folder."""
    config = ServiceConfig(grpc_port=0, var_dir=tmp_path_factory.mktemp("event-contracts"))
    built = {name: build(config) for name, build in BUILDERS.items()}
    yield built
    for service in built.values():
        assert service.engine is not None
        service.engine.dispose()


def _deliver(service: Service, subscription: events.Subscription, envelope: events.Envelope) -> bool:
    """One delivery through the bus's own apply step (inbox claim and handler in one transaction)."""
    assert service.engine is not None
    bus = EventBus(url="nats://127.0.0.1:1", service=service.name, engine=service.engine)  # never connected
    return bus._apply(subscription, envelope)


def _envelope(payload: message.Message, *, event_type: str | None = None) -> events.Envelope:
    # A tenant of its own per case: the services' databases are shared by the module's cases. An erasure
    # names its person as the envelope's subject too (the gateway's envelope does).
    subject = payload.profile_id if isinstance(payload, gateway_events.SubjectErased) else "contract"
    envelope = events.new_event(
        payload, source="teei/contract-tests", tenant=f"contract-{uuid.uuid4().hex[:12]}", subject=subject
    )
    if event_type is not None:
        envelope.type = event_type
    return envelope


def _outbox(session: orm.Session) -> list[events.Envelope]:
    return [events.Envelope.FromString(raw) for raw in session.execute(sa.select(events.outbox.c.envelope)).scalars()]


def _emitted(session: orm.Session, tenant: str) -> list[Any]:
    """Payloads of the events the service recorded in its outbox for this tenant."""
    return [events.payload_of(e) for e in _outbox(session) if e.tenant == tenant]


def _people(payload: message.Message) -> Iterator[types_pb2.PersonRef]:
    for field, value in payload.ListFields():
        if field.message_type is None:
            continue
        for item in value if field.is_repeated else [value]:
            if isinstance(item, types_pb2.PersonRef):
                yield item
            else:
                yield from _people(item)


def _profile_effect(session: orm.Session, envelope: events.Envelope, payload: Any) -> None:
    """Every person the event names has a profile, and the activity was counted on a journey."""
    profiles = SqlProfileRepository(session, company_id=envelope.tenant)
    people = [normalise_email(p.email) for p in _people(payload)]
    assert people, "the example names nobody"
    assert [email for email in people if profiles.get_by_email(email) is None] == []
    counted = sa.select(sa.func.count()).select_from(facts).where(facts.c.company_id == envelope.tenant)
    assert session.execute(counted).scalar_one() > 0


_SCREENED_TEXT = {
    "kintell.session.completed": "feedback_text",
    "kintell.rating.created": "feedback_text",
    "buddy.feedback.submitted": "text",
    "buddy.checkin.completed": "notes",
}


def _has_text(event_type: str, payload: Any) -> bool:
    answers = [a.answer for a in getattr(payload, "question_responses", ())]
    return any(text.strip() for text in [getattr(payload, _SCREENED_TEXT[event_type]), *answers])


def _safety_effect(session: orm.Session, envelope: events.Envelope, payload: Any) -> None:
    """A text is screened once: its verdict is announced, and a finding leaves a flag behind."""
    verdicts = [p for p in _emitted(session, envelope.tenant) if isinstance(p, safety_events.TextScreened)]
    if not _has_text(envelope.type, payload):
        assert verdicts == []
        return
    assert len(verdicts) == 1
    verdict = verdicts[0]
    assert (verdict.source_event_type, verdict.source_event_id) == (envelope.type, envelope.id)
    assert verdict.screening.outcome != types_pb2.SCREENING_OUTCOME_UNSPECIFIED
    if verdict.screening.flag_id:
        flags = SqlSafetyRepository(session, company_id=envelope.tenant)
        assert flags.get_flag(verdict.screening.flag_id) is not None


def _q2q_effect(session: orm.Session, envelope: events.Envelope, payload: Any) -> None:
    """A passed text is scored, a text pending review is held, a review releases or discards it."""
    store = SqlQ2qRepository(session, company_id=envelope.tenant)
    source = SourceRef(SOURCE_FROM_PROTO[payload.source_text_type], payload.source_text_id)
    scored = store.get_classification(source) is not None
    held = store.get_pending(source)
    announced = any(isinstance(p, q2q_events.ScoresComputed) for p in _emitted(session, envelope.tenant))
    if isinstance(payload, safety_events.TextScreened):
        outcome = payload.screening.outcome
        assert scored == announced == (outcome == types_pb2.SCREENING_OUTCOME_PASSED)
        assert (held is not None) == (outcome == types_pb2.SCREENING_OUTCOME_PENDING_REVIEW)
        return
    approved = payload.status == safety_pb2.REVIEW_STATUS_APPROVED
    assert scored == announced == approved
    assert held is not None
    assert held.state is (PendingState.RELEASED if approved else PendingState.REJECTED)


EFFECTS: dict[str, Effect] = {"profile": _profile_effect, "safety": _safety_effect, "q2q": _q2q_effect}
MAPS = {"profile": profile_privacy.MAP, "safety": safety_privacy.MAP, "q2q": q2q_privacy.MAP}


def _erased_effect(service_name: str) -> Effect:
    """After the sweep the service holds nothing about the person in the company, and announces nothing."""

    def effect(session: orm.Session, envelope: events.Envelope, payload: Any) -> None:
        who = subjects.Subject.of(envelope.tenant, profile_id=payload.profile_id)
        assert subjects.count(subjects.export(session, MAPS[service_name], who)) == 0
        assert _emitted(session, envelope.tenant) == []

    return effect


CONSUMER_CASES = [(name, t, i) for name, t in PAIRS for i in range(len(EXAMPLES.get(t, [])))]


def test_built_services_subscribe_as_their_consumer_modules_declare(consumer_services: dict[str, Service]) -> None:
    for name, service in consumer_services.items():
        built = sorted((s.consumer, s.event_types) for s in service.subscriptions)
        assert built == sorted((s.consumer, s.event_types) for s in SUBSCRIBED[name])


@pytest.mark.parametrize(
    ("service_name", "event_type", "index"), CONSUMER_CASES, ids=[f"{n}:{t}[{i}]" for n, t, i in CONSUMER_CASES]
)
def test_consumer_applies_the_producer_example(
    consumer_services: dict[str, Service], service_name: str, event_type: str, index: int
) -> None:
    service = consumer_services[service_name]
    payload = _parse(event_type, EXAMPLES[event_type][index])
    envelope = _envelope(payload)
    subscriptions = [s for s in service.subscriptions if event_type in s.event_types]
    assert subscriptions
    for subscription in subscriptions:
        assert _deliver(service, subscription, envelope), "the first delivery is applied"
        assert not _deliver(service, subscription, envelope), "a redelivery is recognised as a duplicate"
    assert service.engine is not None
    with orm.Session(service.engine) as session:
        effect = _erased_effect(service_name) if event_type == erasures.EVENT_TYPE else EFFECTS[service_name]
        effect(session, envelope, payload)
        # What the consumer emits in turn is itself a published contract.
        emitted = {events.event_type_of(p) for p in _emitted(session, envelope.tenant)}
        assert sorted(emitted - set(EXAMPLES)) == []


# --- (d) the checks can fail ---------------------------------------------------------------------------


def test_a_renamed_field_is_rejected_by_the_producer_check() -> None:
    renamed = dict(EXAMPLES["kintell.session.completed"][0])
    renamed["feedback"] = renamed.pop("feedbackText")
    with pytest.raises(json_format.ParseError, match="feedback"):
        _parse("kintell.session.completed", renamed)


def test_an_example_of_another_shape_fails_the_canonical_comparison() -> None:
    example = EXAMPLES["buddy.match.created"][0]
    widened = {**example, "status": 1}  # an enum by number is accepted by Parse, but is not what producers write
    assert json_format.MessageToDict(_parse("buddy.match.created", widened)) != widened


def test_an_unset_required_field_is_reported() -> None:
    # No event payload marks a field REQUIRED yet; a request message that does proves the check bites.
    request = gateway_pb2.ExportSubjectDataRequest()
    assert _missing_required(request) == ["subject", "reason"]
    request.subject.email = "amira.haddad@example.org"
    request.reason = "DSAR-2026-0042"
    assert _missing_required(request) == []


def test_the_kit_refuses_to_wrap_a_message_that_is_not_an_event() -> None:
    with pytest.raises(ValueError, match="not an event payload"):
        events.new_event(types_pb2.PersonRef(email="a@example.org"), source="x", tenant="acme", subject="s")


def _refuses(service: Service, subscription: events.Subscription, envelope: events.Envelope) -> bool:
    try:
        _deliver(service, subscription, envelope)
    except Exception:  # any failure counts: the bus retries, then dead-letters the message
        return True
    return False


def _foreign_payloads(event_type: str) -> Iterator[message.Message]:
    """Every other declared type's examples (one that fails the producer check is that test's report)."""
    for other in sorted(set(EXAMPLES) & set(DECLARED) - {event_type}):
        for example in EXAMPLES[other]:
            try:
                yield _parse(other, example)
            except json_format.ParseError:
                continue


def _look_alike_params() -> list[Any]:
    params = []
    for name, event_type in PAIRS:
        gap = LOOK_ALIKE_GAPS.get((name, event_type))
        marks = [pytest.mark.xfail(strict=True, reason=gap)] if gap else []
        params.append(pytest.param(name, event_type, marks=marks, id=f"{name}:{event_type}"))
    return params


@pytest.mark.parametrize(("service_name", "event_type"), _look_alike_params())
def test_consumer_refuses_a_payload_of_another_type(
    consumer_services: dict[str, Service], service_name: str, event_type: str
) -> None:
    """An envelope whose payload is another type's message fails (so the bus retries, then dead-letters
    it) and leaves no trace: no inbox claim, nothing emitted."""
    service = consumer_services[service_name]
    (subscription,) = [s for s in service.subscriptions if event_type in s.event_types]
    accepted: list[events.Envelope] = []
    refused: list[events.Envelope] = []
    for payload in _foreign_payloads(event_type):
        envelope = _envelope(payload, event_type=event_type)
        (refused if _refuses(service, subscription, envelope) else accepted).append(envelope)
    assert refused
    assert service.engine is not None
    with orm.Session(service.engine) as session:
        claimed = sa.select(events.inbox.c.event_id).where(events.inbox.c.event_id.in_([e.id for e in refused]))
        assert session.execute(claimed).all() == []
        tenants = {e.tenant for e in refused}
        assert [e.type for e in _outbox(session) if e.tenant in tenants] == []
    taken = sorted({events.payload_of(e).DESCRIPTOR.full_name for e in accepted})
    assert taken == [], f"{subscription.consumer} took {taken} payloads as {event_type}"
