"""One function per command: load → call the domain → commit (one unit of work)."""

from __future__ import annotations

from datetime import datetime

from services.kit.clock import Clock, utc_now
from services.kit.errors import FieldViolation
from services.profile.domain import audit, commands, rules
from services.profile.domain.activity import PersonChange
from services.profile.domain.events import MilestoneReached, ProfilesMerged
from services.profile.domain.identity import bind_external_id, resolve_person, surviving
from services.profile.domain.journey import upserted, validate_name
from services.profile.domain.model import (
    InvalidProfile,
    Profile,
    ProfileEmailTaken,
    live,
    validate_external_id,
    validate_profile_id,
)
from services.profile.repository import DuplicateProfile, ProfileRepository, ProfileUnitOfWork

MAX_REASON_LENGTH = 500
MAX_REQUEST_ID_LENGTH = 128
MAX_ACTOR_LENGTH = 200


def create_profile(command: commands.CreateProfile, *, uow: ProfileUnitOfWork, clock: Clock = utc_now) -> Profile:
    """Registers a person; a second profile with the same e-mail in the company is refused."""
    profile = Profile.register(
        company_id=command.company_id,
        email=command.email,
        given_name=command.given_name,
        family_name=command.family_name,
        role=command.role,
        now=clock(),
    )
    with uow.begin(company_id=command.company_id) as profiles:
        existing = profiles.get_by_email(profile.email)
        if existing is None:
            try:
                profiles.add(profile)
                profiles.audit.append(audit.profile_created(profile))
                return profile
            except DuplicateProfile:
                existing = profiles.get_by_email(profile.email)
        owner = surviving(profiles, existing)
    raise ProfileEmailTaken(
        "a profile with this e-mail already exists",
        metadata={"profile_id": owner.profile_id if owner else ""},
        violations=[FieldViolation("email", "already used by another profile")],
    )


def _live_profile(profiles: ProfileRepository, profile_id: str, field_name: str = "profile_id") -> Profile:
    """The profile, locked for change; a merged-away profile is not found and names its survivor."""
    profile_id = validate_profile_id(profile_id, field_name)
    return live(profiles.lock(profile_id), profile_id)


def link_external_id(
    command: commands.LinkExternalId, *, uow: ProfileUnitOfWork, clock: Clock = utc_now
) -> tuple[Profile, bool]:
    """Binds an external id to a profile: idempotent, and a binding to another profile is a conflict."""
    external = validate_external_id(command.provider, command.external_id)
    with uow.begin(company_id=command.company_id) as profiles:
        profile = _live_profile(profiles, command.profile_id)
        created = bind_external_id(profiles, profile, external, now=clock())
        if created:
            profiles.save_journey(profile, now=clock())
        return profile, created


def merge_profiles(command: commands.MergeProfiles, *, uow: ProfileUnitOfWork, clock: Clock = utc_now) -> Profile:
    """Folds the duplicate into the survivor (audited, emitted); replaying a done merge changes nothing."""
    survivor_id = validate_profile_id(command.profile_id)
    duplicate_id = validate_profile_id(command.duplicate_profile_id, "duplicate_profile_id")
    reason = _merge_reason(command.reason, survivor_id, duplicate_id)
    with uow.begin(company_id=command.company_id) as profiles:
        survivor = _live_profile(profiles, survivor_id)
        duplicate = profiles.lock(duplicate_id)
        if duplicate is not None and duplicate.merged_into == survivor_id:
            return survivor
        duplicate = _live_profile(profiles, duplicate_id, "duplicate_profile_id")
        survivor.journey.absorb(duplicate.journey)
        survivor.external_ids = sorted({*survivor.external_ids, *duplicate.external_ids})
        # The audit column holds 200 characters; a longer token subject is kept by its prefix.
        merge = ProfilesMerged(survivor_id, duplicate_id, reason, command.actor[:MAX_ACTOR_LENGTH])
        profiles.fold(duplicate, survivor, merge, now=clock())
        profiles.publish(merge)
        profiles.audit.append(audit.profiles_merged(merge, command.company_id))
        return survivor


def _merge_reason(reason: str, survivor_id: str, duplicate_id: str) -> str:
    reason = reason.strip()
    violations = []
    if not reason:
        violations.append(FieldViolation("reason", "is required"))
    elif len(reason) > MAX_REASON_LENGTH:
        violations.append(FieldViolation("reason", f"must be at most {MAX_REASON_LENGTH} characters"))
    if survivor_id == duplicate_id:
        violations.append(FieldViolation("duplicate_profile_id", "must differ from profile_id"))
    if violations:
        raise InvalidProfile("the merge request is invalid", violations=violations)
    return reason


def upsert_enrolment(command: commands.UpsertEnrolment, *, uow: ProfileUnitOfWork, clock: Clock = utc_now) -> Profile:
    """Sets the profile's enrolment in one programme."""
    violations = [
        FieldViolation(f"enrolment.{name}", "is required")
        for name, value in (("programme", command.programme), ("status", command.status))
        if value is None
    ]
    if violations or command.programme is None or command.status is None:
        raise InvalidProfile("the enrolment is invalid", violations=violations)
    with uow.begin(company_id=command.company_id) as profiles:
        profile = _live_profile(profiles, command.profile_id)
        enrolments = profile.journey.enrolments
        enrolments[command.programme] = upserted(
            enrolments.get(command.programme),
            programme=command.programme,
            status=command.status,
            start_at=command.start_at,
            end_at=command.end_at,
            now=clock(),
        )
        profiles.save_journey(profile, now=clock())
        return profile


def set_journey_flag(command: commands.SetJourneyFlag, *, uow: ProfileUnitOfWork, clock: Clock = utc_now) -> Profile:
    """Sets a journey flag."""
    name = validate_name("flag", command.flag)
    with uow.begin(company_id=command.company_id) as profiles:
        profile = _live_profile(profiles, command.profile_id)
        profile.journey.set_flag(name, command.value)
        profiles.save_journey(profile, now=clock())
        return profile


def increment_counter(command: commands.IncrementCounter, *, uow: ProfileUnitOfWork, clock: Clock = utc_now) -> Profile:
    """Adds delta to a counter (a missing one starts at 0); a replayed request id is applied once."""
    name = validate_name("counter", command.counter)
    if len(command.request_id) > MAX_REQUEST_ID_LENGTH:
        violation = FieldViolation("request_id", f"must be at most {MAX_REQUEST_ID_LENGTH} characters")
        raise InvalidProfile("the request id is invalid", violations=[violation])
    with uow.begin(company_id=command.company_id) as profiles:
        profile = _live_profile(profiles, command.profile_id)
        if command.request_id and not profiles.first_fact(
            profile.profile_id, "rpc.increment_counter", command.request_id, now=clock()
        ):
            return profile
        profile.journey.increment(name, command.delta)
        profiles.save_journey(profile, now=clock())
        return profile


def record_activity(command: commands.RecordActivity, *, uow: ProfileUnitOfWork, clock: Clock = utc_now) -> None:
    """Applies one source record to each person it names (found or created), announcing new milestones."""
    now = clock()
    with uow.begin(company_id=command.company_id) as profiles:
        for item in command.changes:
            _apply(profiles, command, item, now)


def _apply(profiles: ProfileRepository, command: commands.RecordActivity, item: PersonChange, now: datetime) -> None:
    person = item.person
    resolved = resolve_person(
        profiles,
        company_id=command.company_id,
        email=person.email,
        provider=command.provider,
        external_id=person.external_id,
        role=item.role,
        names=(person.given_name, person.family_name),
        profile_id=person.profile_id,
        now=now,
    )
    # Locked as _live_profile locks it, without reading the profile again when nothing changed it meanwhile.
    profile = live(profiles.relock(resolved), resolved.profile_id)
    applied: list[bool] = []

    def first(source: str, record_id: str) -> bool:
        new = profiles.first_fact(profile.profile_id, source, record_id, now=now)
        applied.append(new)
        return new

    item.change(profile.journey, first)
    if any(applied):
        rules.check_job_ready(profile.journey, item.at)
        profiles.save_journey(profile, now=now)
        for milestone in profile.journey.reached:
            profiles.publish(MilestoneReached(profile.profile_id, milestone))
        # Announced: the profile's next change in this transaction (a batch's next event naming the person
        # finds the same profile, services/profile/repository.py) starts with no milestone new.
        profile.journey.reached.clear()
