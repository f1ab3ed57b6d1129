"""Builders for source events and readers of the profile database, shared by the profile unit tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from google.protobuf import message

from services.kit.messaging import events
from services.kit.persistence import db
from services.profile import consumers, handlers, queries
from services.profile.domain.commands import CreateProfile, ListProfiles
from services.profile.domain.journey import Enrolment, EnrolmentStatus, Milestone, MilestoneKind, Programme
from services.profile.domain.model import ExternalId, PersonRole, Profile, Provider
from services.profile.repository import SqlProfileUnitOfWork
from teei.common.v1 import types_pb2
from teei.events.v1 import envelope_pb2
from teei.kintell.v1 import events_pb2 as kintell_events
from teei.kintell.v1 import kintell_pb2
from teei.profile.v1 import events_pb2 as profile_events
from teei.profile.v1 import profile_pb2

PARTICIPANT = "pat@example.org"
VOLUNTEER = "vol@example.org"


def person(email: str, external_id: str = "") -> types_pb2.PersonRef:
    """A person reference as a source names them."""
    return types_pb2.PersonRef(email=email, external_id=external_id, given_name="Given", family_name="Family")


def at(day: int) -> datetime:
    """A fixed day in January 2026 (UTC)."""
    return datetime(2026, 1, day, 12, tzinfo=UTC)


def envelope(payload: message.Message, tenant: str = "acme") -> envelope_pb2.Envelope:
    """A new event around the payload."""
    return events.new_event(payload, source="teei/test", tenant=tenant, subject="test")


def deliver(engine: sa.Engine, item: message.Message | envelope_pb2.Envelope, tenant: str = "acme") -> str:
    """Applies an event with its subscribed handler in one transaction, as the kit does; returns its id."""
    wrapped = item if isinstance(item, envelope_pb2.Envelope) else envelope(item, tenant)
    with db.UnitOfWork(engine).begin() as session:
        consumers.HANDLERS[wrapped.type](wrapped, session)
    return wrapped.id


def session_completed(
    session_id: str,
    *,
    programme: int = kintell_pb2.SESSION_TYPE_LANGUAGE,
    level: int = types_pb2.CEFR_LEVEL_UNSPECIFIED,
    day: int = 1,
    participant: str = PARTICIPANT,
    volunteer: str = VOLUNTEER,
) -> kintell_events.SessionCompleted:
    """A completed Kintell session between the usual pair."""
    payload = kintell_events.SessionCompleted(
        session_id=str(uuid.uuid4()),
        external_session_id=session_id,
        session_type=programme,  # type: ignore[arg-type]
        participant=person(participant, "k-pat"),
        volunteer=person(volunteer, "k-vol"),
        language_level=level,  # type: ignore[arg-type]
    )
    payload.complete_time.FromDatetime(at(day))
    return payload


def profile(uow: SqlProfileUnitOfWork, email: str, tenant: str = "acme") -> Profile:
    """The one live profile with this e-mail."""
    page, _ = queries.list_profiles(ListProfiles(tenant, email), uow=uow)
    assert len(page) == 1, f"expected one profile for {email}, found {len(page)}"
    return page[0]


def count(uow: SqlProfileUnitOfWork, tenant: str = "acme") -> int:
    """How many live profiles the company has."""
    return len(queries.list_profiles(ListProfiles(tenant, page_size=100), uow=uow)[0])


def outbox(engine: sa.Engine) -> list[envelope_pb2.Envelope]:
    """Events recorded but not yet published."""
    with db.UnitOfWork(engine).begin() as session:
        return events.pending(session, limit=1000)


def milestones(engine: sa.Engine) -> list[tuple[str, str, str]]:
    """(profile id, milestone kind name, detail) of every milestone event in the outbox."""
    found = []
    for item in outbox(engine):
        payload = events.payload_of(item)
        if isinstance(payload, profile_events.MilestoneReached):
            found.append((payload.profile_id, profile_pb2.MilestoneKind.Name(payload.kind), payload.detail))
    return found


def rich_profile(uow: SqlProfileUnitOfWork, *, company_id: str = "acme") -> Profile:
    """A profile with an identity and every kind of journey row, two milestones written out of time order."""
    command = CreateProfile(company_id, "rich@example.org", "Given", "Family", PersonRole.PARTICIPANT)
    created = handlers.create_profile(command, uow=uow)
    with uow.begin(company_id=company_id) as profiles:
        profile = profiles.get(created.profile_id)
        assert profile is not None
        journey = profile.journey
        journey.enrolments[Programme.LANGUAGE] = Enrolment(Programme.LANGUAGE, EnrolmentStatus.ACTIVE, at(1), None)
        journey.enrolments[Programme.BUDDY] = Enrolment(Programme.BUDDY, EnrolmentStatus.COMPLETED, at(2), at(3))
        journey.flags.update({"job_ready": True, "opted_out": False})
        journey.counters.update({"sessions": 2**40, "ratings": 3})
        journey.milestones += [
            Milestone(MilestoneKind.BUDDY_MATCHED, at(5), "matched", ""),
            Milestone(MilestoneKind.FIRST_LANGUAGE_SESSION, at(4), "first", ""),
        ]
        profiles.bind(profile.profile_id, ExternalId(Provider.KINTELL, "k-1"), now=at(1))
        profiles.save_journey(profile, now=at(6))
        stored = profiles.get(profile.profile_id)
    assert stored is not None
    return stored
