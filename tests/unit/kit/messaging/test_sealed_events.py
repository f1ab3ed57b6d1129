"""Personal data inside event payloads sealed with per-person keys (services/kit/messaging/sealed_events.py),
over real generated event messages and a real key store: no e-mail, name or free text in the serialized
bytes, opened back by any holder of the shared key store, unreadable for good once a person's key is shredded
while the other people of the same event still open."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from google.protobuf import descriptor, message

from services.kit.identity import profile_id_for_email
from services.kit.messaging import events, sealed_events
from services.kit.persistence import db
from services.kit.security import pii
from services.kit.security.pii import FieldTampered, SubjectErased, is_sealed
from services.kit.security.pii.keyring import KEYRING_FILE, KeyringSource
from services.kit.security.pii.keystore import SubjectKeys, keystore_url
from teei.buddy.v1 import buddy_pb2
from teei.buddy.v1 import events_pb2 as buddy_events
from teei.common.v1 import access_pb2, types_pb2
from teei.kintell.v1 import events_pb2 as kintell_events
from teei.upskilling.v1 import events_pb2 as upskilling_events

COMPANY = "acme"
ANA = types_pb2.PersonRef(email="ana@example.org", external_id="k-ana", given_name="Ana", family_name="Lopes")
VIC = types_pb2.PersonRef(email="vic@example.org", external_id="k-vic", given_name="Victor", family_name="Hale")
FEEDBACK = "Ana said her landlord is threatening eviction"


@pytest.fixture
def cipher(tmp_path: Path) -> Iterator[pii.PiiCipher]:
    made = pii.local(tmp_path, sealed_events.KEYSTORE)
    yield made
    made.close()


@pytest.fixture
def installed(cipher: pii.PiiCipher) -> Iterator[pii.PiiCipher]:
    sealed_events.install(cipher)
    yield cipher
    sealed_events.uninstall()


def _session() -> kintell_events.SessionCompleted:
    return kintell_events.SessionCompleted(
        session_id="s-1",
        participant=ANA,
        volunteer=VIC,
        feedback_text=FEEDBACK,
        goals_discussed=["find a flat", "a job at the harbour"],
        topics=["housing"],
    )


def _sealed_copy(payload: message.Message, cipher: pii.PiiCipher, record: str = "ev-1") -> message.Message:
    copy = type(payload)()
    copy.CopyFrom(payload)
    assert sealed_events.seal_payload(copy, company_id=COMPANY, record=record, cipher=cipher)
    return copy


def test_a_session_holds_no_email_name_or_text_once_sealed_and_opens_back(cipher: pii.PiiCipher) -> None:
    original = _session()
    sealed = _sealed_copy(original, cipher)
    raw = sealed.SerializeToString()
    for plain in ("ana@example.org", "vic@example.org", "k-ana", "Lopes", "Victor", "eviction", "harbour"):
        assert plain.encode() not in raw, plain
    assert b"housing" in raw  # topics are not personal: left plain
    assert isinstance(sealed, kintell_events.SessionCompleted)
    assert sealed.participant.profile_id == ""  # the routing id is never invented, nor sealed
    assert is_sealed(sealed.participant.email)
    assert is_sealed(sealed.goals_discussed[1])
    sealed_events.open_payload(sealed, record="ev-1", cipher=cipher)
    assert sealed == original


def test_shredding_the_participant_leaves_the_volunteer_readable(cipher: pii.PiiCipher) -> None:
    sealed = _sealed_copy(_session(), cipher)
    assert isinstance(sealed, kintell_events.SessionCompleted)
    ana = profile_id_for_email(COMPANY, ANA.email)
    sealed_events.install(cipher)
    try:
        assert sealed_events.shred_subject(COMPANY, ana, email=ANA.email) == 1  # named both ways: one key
        assert sealed_events.shred_subject(COMPANY, email=ANA.email) == 0  # already gone
    finally:
        sealed_events.uninstall()
    with pytest.raises(SubjectErased):
        sealed_events.open_payload(_copy(sealed), record="ev-1", cipher=cipher)
    volunteer_only = kintell_events.SessionCompleted()
    volunteer_only.volunteer.CopyFrom(sealed.volunteer)
    sealed_events.open_payload(volunteer_only, record="ev-1", cipher=cipher)
    assert volunteer_only.volunteer == VIC
    for text in (sealed.participant.email, sealed.feedback_text, sealed.goals_discussed[0]):
        with pytest.raises(SubjectErased):
            cipher.open(text, field="any", record="ev-1")


def test_a_sealed_value_moved_to_another_event_or_field_does_not_open(cipher: pii.PiiCipher) -> None:
    sealed = _sealed_copy(_session(), cipher, record="ev-1")
    with pytest.raises(FieldTampered):
        sealed_events.open_payload(_copy(sealed), record="ev-2", cipher=cipher)
    assert isinstance(sealed, kintell_events.SessionCompleted)
    swapped = _copy(sealed)
    assert isinstance(swapped, kintell_events.SessionCompleted)
    swapped.participant.given_name = sealed.participant.family_name
    with pytest.raises(FieldTampered):
        sealed_events.open_payload(swapped, record="ev-1", cipher=cipher)


def test_a_check_in_answer_is_sealed_with_both_peoples_keys_and_dies_with_either(cipher: pii.PiiCipher) -> None:
    checkin = buddy_events.CheckInCompleted(
        checkin_id="c-1",
        participant=ANA,
        buddy=VIC,
        notes="we talked about her debts",
        question_responses=[buddy_pb2.QuestionResponse(question="How are you?", answer="worried about my debts")],
    )
    sealed = _sealed_copy(checkin, cipher)
    raw = sealed.SerializeToString()
    assert b"debts" not in raw
    assert b"How are you?" in raw
    opened = _copy(sealed)
    sealed_events.open_payload(opened, record="ev-1", cipher=cipher)
    assert opened == checkin
    cipher.shred(COMPANY, profile_id_for_email(COMPANY, VIC.email))  # the buddy, not the writer
    assert isinstance(sealed, buddy_events.CheckInCompleted)
    answer_only = buddy_events.CheckInCompleted()
    answer_only.question_responses.add().CopyFrom(sealed.question_responses[0])
    with pytest.raises(SubjectErased):
        sealed_events.open_payload(answer_only, record="ev-1", cipher=cipher)
    participant_only = buddy_events.CheckInCompleted()
    participant_only.participant.CopyFrom(sealed.participant)
    sealed_events.open_payload(participant_only, record="ev-1", cipher=cipher)
    assert participant_only.participant == ANA


def test_a_buddy_event_is_sealed_with_each_attendees_key_and_a_group_one_with_the_companys(
    cipher: pii.PiiCipher,
) -> None:
    logged = buddy_events.EventLogged(
        event_id="e-1", description="picnic at Ana's", location="12 Elm St", attendees=[ANA, VIC]
    )
    sealed = _sealed_copy(logged, cipher)
    assert b"Elm" not in sealed.SerializeToString()
    assert b"Lopes" not in sealed.SerializeToString()
    opened = _copy(sealed)
    sealed_events.open_payload(opened, record="ev-1", cipher=cipher)
    assert opened == logged
    group = _sealed_copy(buddy_events.EventLogged(event_id="e-2", location="community hall"), cipher)
    assert isinstance(group, buddy_events.EventLogged)
    assert is_sealed(group.location)
    cipher.shred(COMPANY, profile_id_for_email(COMPANY, ANA.email))
    with pytest.raises(SubjectErased):
        sealed_events.open_payload(_copy(sealed), record="ev-1", cipher=cipher)
    sealed_events.open_payload(group, record="ev-1", cipher=cipher)  # no erasure names the company's key
    assert group.location == "community hall"


def test_a_learner_known_only_by_a_provider_id_has_a_key_an_erasure_can_name(cipher: pii.PiiCipher) -> None:
    learner = types_pb2.PersonRef(external_id="coursera-77", given_name="Ana")
    issued = upskilling_events.CredentialIssued(
        credential_id="cr-1", learner=learner, url="https://cert.example/ana-77"
    )
    sealed = _sealed_copy(issued, cipher)
    assert b"ana-77" not in sealed.SerializeToString()
    assert b"coursera-77" not in sealed.SerializeToString()
    opened = _copy(sealed)
    sealed_events.open_payload(opened, record="ev-1", cipher=cipher)
    assert opened == issued
    sealed_events.install(cipher)
    try:
        assert sealed_events.shred_subject(COMPANY, "", external_ids=["coursera-77"]) == 1
    finally:
        sealed_events.uninstall()
    with pytest.raises(SubjectErased):
        sealed_events.open_payload(sealed, record="ev-1", cipher=cipher)


def test_plain_payloads_of_events_recorded_before_sealing_pass_through(cipher: pii.PiiCipher) -> None:
    plain = _session()
    assert sealed_events.open_payload(plain, record="ev-1", cipher=cipher) == 0
    assert sealed_events.open_payload(plain, record="ev-1") == 0  # no cipher needed for plain values
    assert plain == _session()


def test_the_outbox_holds_sealed_rows_and_a_consumer_without_a_cipher_is_refused(
    tmp_path: Path, installed: pii.PiiCipher
) -> None:
    engine = db.create_engine(db.sqlite_url(tmp_path / "svc.db"))
    events.metadata.create_all(engine)
    envelope = events.new_event(_session(), source="teei/test", tenant=COMPANY, subject="s-1")
    with db.UnitOfWork(engine).begin() as session:
        events.record_many(session, [envelope])
    assert events.payload_of(envelope) == _session()  # the caller's envelope is left as it was
    with engine.connect() as connection:
        stored = connection.execute(sa.select(events.outbox.c.envelope)).scalar_one()
    assert b"ana@example.org" not in stored
    assert b"eviction" not in stored
    with db.UnitOfWork(engine).read() as session:
        (pending,) = events.pending(session)
    assert events.payload_of(pending) == _session()
    sealed_events.uninstall()
    with pytest.raises(sealed_events.SealedPayloadRefused):
        events.payload_of(pending)
    engine.dispose()


def test_without_a_cipher_the_outbox_keeps_payloads_as_they_are(tmp_path: Path) -> None:
    assert sealed_events.installed() is None
    engine = db.create_engine(db.sqlite_url(tmp_path / "svc.db"))
    events.metadata.create_all(engine)
    envelope = events.new_event(_session(), source="teei/test", tenant=COMPANY, subject="s-1")
    with db.UnitOfWork(engine).begin() as session:
        events.record(session, envelope)
    with engine.connect() as connection:
        assert connection.execute(sa.select(events.outbox.c.envelope)).scalar_one() == envelope.SerializeToString()
    engine.dispose()


def _create_key(var_dir: str, subject: str) -> str:
    keys = SubjectKeys.open(
        keystore_url(Path(var_dir), sealed_events.KEYSTORE), KeyringSource(path=Path(var_dir) / KEYRING_FILE)
    )
    try:
        return keys.key_for(COMPANY, subject).key_id
    finally:
        keys.dispose()


def test_services_creating_the_same_persons_key_at_once_end_with_one_key(tmp_path: Path) -> None:
    pii.local(tmp_path, "warmup").close()  # the keyring file, as `teei up` makes it before the services start
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        ids = list(pool.map(_create_key, [str(tmp_path)] * 4, ["p-1", "p-1", "p-2", "p-2"]))
    assert ids[0] == ids[1]
    assert ids[2] == ids[3]
    assert ids[0] != ids[2]
    engine = db.create_engine(keystore_url(tmp_path, sealed_events.KEYSTORE))
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM pii_subject_keys")).scalar_one() == 2
    engine.dispose()


def test_every_sealed_with_annotation_names_a_person_or_a_profile_id() -> None:
    """Each annotated field of every event payload names PersonRef or profile-id string fields of its
    message or of a message enclosing it (a typo would only fail when such an event is recorded)."""
    from teei.profile.v1 import events_pb2 as profile_events  # noqa: PLC0415 - the other event modules
    from teei.safety.v1 import events_pb2 as safety_events  # noqa: PLC0415

    checked = 0
    for module in (kintell_events, buddy_events, upskilling_events, profile_events, safety_events):
        for message_type in module.DESCRIPTOR.message_types_by_name.values():
            assert message_type.GetOptions().Extensions[access_pb2.event_type], message_type.full_name
            checked += _check(message_type, ())
    assert checked >= 15


def _check(kind: descriptor.Descriptor, chain: tuple[descriptor.Descriptor, ...]) -> int:
    chain, checked = (*chain, kind), 0
    for field in kind.fields:
        if field.message_type is not None and field.message_type.full_name != sealed_events.PERSON:
            if field.message_type not in chain and not field.message_type.GetOptions().map_entry:
                checked += _check(field.message_type, chain)
            continue
        names = field.GetOptions().Extensions[access_pb2.sealed_with]
        for name in filter(None, (n.strip() for n in names.split(","))):
            if name == sealed_events.COMPANY:
                continue
            owner = next((k for k in reversed(chain) if name in k.fields_by_name), None)
            assert owner is not None, f"{kind.full_name}.{field.name} names {name!r}"
            named = owner.fields_by_name[name]
            person = named.message_type is not None and named.message_type.full_name == sealed_events.PERSON
            assert person or named.type == descriptor.FieldDescriptor.TYPE_STRING, f"{kind.full_name}.{field.name}"
            checked += 1
    return checked


def _copy(payload: message.Message) -> message.Message:
    copy = type(payload)()
    copy.CopyFrom(payload)
    return copy
