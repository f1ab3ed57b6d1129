"""One function per command: load → call the domain → commit (one unit of work); signing reads the key ring."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from services.gateway import events
from services.gateway.domain import audit as audit_entries
from services.gateway.domain import clients as client_rules
from services.gateway.domain import keys as ring
from services.gateway.domain import privacy as dsr
from services.gateway.domain.clients import Client
from services.gateway.domain.commands import IssueToken, MintToken, ReceivePrivacyRequest, RegisterClient, RotateKeys
from services.gateway.domain.errors import (
    ClientExists,
    InvalidClient,
    InvalidPrivacyRequest,
    InvalidTarget,
    InvalidTokenRequest,
    PrivacyNotConfigured,
    PrivacyRequestNotFound,
    SubjectNotIdentified,
    UnsupportedGrantType,
)
from services.gateway.domain.keys import KeyPolicy, KeyState, SigningKey
from services.gateway.domain.sso import Identity
from services.gateway.domain.tokens import AccessClaims, IssuedToken, TokenSettings, access_claims
from services.gateway.dsr import bundle
from services.gateway.keys.crypto import generate
from services.gateway.keys.ring import KeyRing
from services.gateway.keys.sealing import KeySealer
from services.gateway.repository import DuplicateClient, GatewayRepository, GatewayUnitOfWork, Section
from services.kit.audit.records import Actor, ActorKind
from services.kit.clock import Clock, utc_now
from services.kit.errors import FieldViolation
from services.kit.identity import normalise_email, profile_id_for_email
from services.kit.messaging import sealed_events

# The gateway's tables an erasure may change (its privacy map's, the requests', the kit's copies).
OWN_TABLES = ("oauth_clients", "privacy_requests", "privacy_sections", "outbox", "idempotency_keys")
# Request ids derived from a client's key: the same key of the same caller is the same request.
_REQUEST_IDS = uuid.UUID("0b6c1f4e-7d2a-5e39-8c41-9a3f2d7e6b15")


def rotate_keys(
    command: RotateKeys, *, uow: GatewayUnitOfWork, sealer: KeySealer, policy: KeyPolicy, clock: Clock = utc_now
) -> list[SigningKey]:
    """Promotes the next key, retires the active one and publishes a new next key; returns the ring."""
    now = clock()
    pair = generate(command.algorithm)  # outside the transaction: RSA generation takes a while
    with uow.begin() as repo:
        plan = ring.plan_rotation(repo.keys.all(), now=now, policy=policy, force=command.force)
        # Retire before promoting: the database allows one active key at a time.
        for changed in (plan.retire, plan.promote):
            if changed is not None:
                repo.keys.update(changed)
        fresh = SigningKey(
            kid=pair.kid,
            algorithm=pair.algorithm,
            state=plan.new_key_state,
            public_jwk=pair.public_jwk,
            sealed_private_key=sealer.seal(pair.kid, pair.private_pem),
            created_at=now,
            activated_at=now if plan.new_key_state is KeyState.ACTIVE else None,
        )
        repo.keys.add(fresh)
        ring_after = repo.keys.all()
        repo.audit.append(audit_entries.keys_rotated(plan, fresh, ring_after))
        return ring_after


def register_client(command: RegisterClient, *, uow: GatewayUnitOfWork, clock: Clock = utc_now) -> tuple[Client, str]:
    """Registers a machine client; returns it with its secret, which is shown once and stored only hashed."""
    secret = client_rules.new_secret()
    client = client_rules.register(
        client_id=command.client_id,
        company_id=command.company_id,
        role=command.role,
        scopes=command.scopes,
        secret=secret,
        now=clock(),
    )
    try:
        with uow.begin() as repo:
            repo.clients.add(client)
            repo.audit.append(audit_entries.client_registered(client))
    except DuplicateClient as exc:
        raise ClientExists("a client with this id exists", metadata={"client_id": client.client_id}) from exc
    return client, secret


def issue_token(
    command: IssueToken, *, uow: GatewayUnitOfWork, keys: KeyRing, settings: TokenSettings, clock: Clock = utc_now
) -> IssuedToken:
    """Client-credentials grant: authenticates the client; its company becomes the token's tenant."""
    if not command.grant_type:
        raise InvalidTokenRequest("grant_type is required")
    if command.grant_type != "client_credentials":
        raise UnsupportedGrantType("only the client_credentials grant is supported")
    client = _authenticate(command.client_id, command.client_secret, uow=uow)
    if command.audience and command.audience != settings.audience:
        raise InvalidTarget("tokens are issued only for this platform's audience")
    scopes = client_rules.grant_scopes(client, command.scope)
    claims = access_claims(
        subject=client.client_id,
        role=client.role,
        company=client.company_id,
        email=client.email,
        scopes=scopes,
        settings=settings,
        now=clock(),
    )
    return _signed(claims, keys=keys, uow=uow, actor=Actor(ActorKind.CLIENT, client.client_id))


def mint_token(
    command: MintToken, *, uow: GatewayUnitOfWork, keys: KeyRing, settings: TokenSettings, clock: Clock = utc_now
) -> IssuedToken:
    """A development token for any role and tenant (operators only: it needs the key ring itself)."""
    lifetime = replace(settings, lifetime=command.lifetime or settings.lifetime)
    claims = _unscoped(command.subject, command.role, command.company_id, command.email, settings=lifetime, now=clock())
    return _signed(claims, keys=keys, uow=uow, action="token.minted")


def sign_in(
    identity: Identity, *, uow: GatewayUnitOfWork, keys: KeyRing, settings: TokenSettings, clock: Clock = utc_now
) -> IssuedToken:
    """An access token for a user whose identity an SSO provider proved; tenant and role come from the mapping."""
    claims = _unscoped(identity.subject, identity.role, identity.tenant, identity.email, settings=settings, now=clock())
    actor = Actor(ActorKind.USER, identity.subject)
    return _signed(claims, keys=keys, uow=uow, action="sign_in.completed", actor=actor)


def _authenticate(client_id: str, secret: str, *, uow: GatewayUnitOfWork) -> Client:
    if not client_id or not secret:
        raise InvalidClient("client authentication is required")
    with uow.begin() as repo:
        client = repo.clients.get(client_id)
        if client is None:
            client_rules.burn_time(secret)
        elif client_rules.secret_matches(secret, client.secret_hash) and not client.disabled:
            return client
        # The claimed id is not proven: the actor is anonymous, the id only names the resource tried.
        repo.audit.append(audit_entries.client_refused(client_id))
    raise InvalidClient("client authentication failed")


def _unscoped(
    subject: str, role: str, company: str | None, email: str | None, *, settings: TokenSettings, now: datetime
) -> AccessClaims:
    """The claims of a token granted by its role alone, without scopes: a minted token's or an SSO sign-in's."""
    return access_claims(
        subject=subject, role=role, company=company, email=email, scopes=(), settings=settings, now=now
    )


def _signed(
    claims: AccessClaims,
    *,
    keys: KeyRing,
    uow: GatewayUnitOfWork,
    action: str = "token.issued",
    actor: Actor | None = None,
) -> IssuedToken:
    """The token of `claims`, signed; the issue is recorded before the token is handed out: no token leaves
    without its audit record."""
    token, lifetime = keys.sign(claims), claims["exp"] - claims["iat"]
    issued = IssuedToken(access_token=token, expires_in=lifetime, scope=claims.get("scope", ""), claims=claims)
    with uow.begin() as repo:
        repo.audit.append(audit_entries.token_issued(action, issued.claims, actor))
    return issued


def receive_privacy_request(
    command: ReceivePrivacyRequest, *, services: Sequence[str], uow: GatewayUnitOfWork, clock: Clock = utc_now
) -> tuple[dsr.PrivacyRequest, bool]:
    """Records a data-subject request with a part per service (the gateway's last) and whether it is new;
    a repeat with the same client key (same company, caller and kind) is the request recorded first,
    which never runs twice."""
    kind = dsr.RequestKind(command.kind)
    try:
        _check_request(command, kind)
        subject = _subject_of(command)
    except (InvalidPrivacyRequest, SubjectNotIdentified) as refused:
        with uow.begin() as repo:
            repo.audit.append(audit_entries.privacy_request_refused(kind.value, command.company_id, refused))
        raise
    if not services:
        raise PrivacyNotConfigured("no personal-data service is configured to answer privacy requests")
    key = command.client_key
    request_id = str(uuid.uuid5(_REQUEST_IDS, "\x1f".join((command.company_id, command.requested_by, kind.value, key))))
    fresh = dsr.receive(
        request_id=request_id if key else str(uuid.uuid4()),
        kind=kind,
        subject=subject,
        requested_by=command.requested_by,
        reason=command.reason.strip(),
        own=command.own,
        now=clock(),
        services=(*services, dsr.GATEWAY),
    )
    with uow.begin() as repo:
        known = repo.privacy_requests.get(fresh.request_id)
        if known is not None:
            return known, False
        repo.privacy_requests.add(fresh)
        repo.audit.append(audit_entries.privacy_request_received(fresh))
    return fresh, True


def start_privacy_request(
    request_id: str, *, owner: str, lease: timedelta, uow: GatewayUnitOfWork, clock: Clock
) -> dsr.PrivacyRequest | None:
    """Takes (or renews) the lease on the request for `owner` and moves it received → in_progress; None when
    another gateway process drives it (or it settled meanwhile)."""
    now = clock()
    with uow.begin() as repo:
        request = _load(repo, request_id)
        if request.settled or not repo.privacy_requests.claim(request_id, owner=owner, now=now, until=now + lease):
            return None
        started = dsr.start(request)
        repo.privacy_requests.update(started)
        return started


def release_privacy_request(request_id: str, *, owner: str, uow: GatewayUnitOfWork) -> None:
    """`owner` stops driving the request (its next due part is left to whichever process comes first)."""
    with uow.begin() as repo:
        repo.privacy_requests.release(request_id, owner=owner)


def confirm_part(
    request_id: str, service: str, answer: dsr.Answer, *, section: Section | None, uow: GatewayUnitOfWork, clock: Clock
) -> dsr.PrivacyRequest:
    """A service confirmed its part (with its export section, for an export)."""
    with uow.begin() as repo:
        request = dsr.confirm(_load(repo, request_id), service, answer, now=clock())
        if section is not None:
            repo.privacy_requests.add_section(request_id, section)
        repo.privacy_requests.update(request)
        repo.audit.append(audit_entries.privacy_part_settled(request, service))
        return request


def postpone_part(
    request_id: str, service: str, error: str, *, retry_at: datetime, uow: GatewayUnitOfWork, clock: Clock
) -> dsr.PrivacyRequest:
    """A service could not be reached: its part is tried again at `retry_at`."""
    with uow.begin() as repo:
        request = dsr.postpone(_load(repo, request_id), service, error, retry_at=retry_at, now=clock())
        repo.privacy_requests.update(request)
        return request


def refuse_part(
    request_id: str, service: str, error: str, *, uow: GatewayUnitOfWork, clock: Clock
) -> dsr.PrivacyRequest:
    """A service refused its part for good."""
    with uow.begin() as repo:
        request = dsr.refuse(_load(repo, request_id), service, error, now=clock())
        repo.privacy_requests.update(request)
        repo.audit.append(audit_entries.privacy_part_settled(request, service))
        return request


def export_own_part(request_id: str, *, uow: GatewayUnitOfWork, clock: Clock) -> dsr.PrivacyRequest:
    """The gateway's own part of an export: its records about the subject become the gateway section."""
    with uow.begin() as repo:
        request = _load(repo, request_id)
        records = repo.own_data.export(request.subject)
        found = sum(len(rows) for rows in records.values())
        answer = dsr.Answer(found=found, exported=found)
        settled = dsr.confirm(request, dsr.GATEWAY, answer, now=clock())
        repo.privacy_requests.add_section(request_id, bundle.section(dsr.GATEWAY, records))
        repo.privacy_requests.update(settled)
        repo.audit.append(audit_entries.privacy_part_settled(settled, dsr.GATEWAY))
        return settled


def name_subject(request_id: str, email: str, *, uow: GatewayUnitOfWork) -> dsr.PrivacyRequest:
    """Keeps the e-mail of a subject named by profile id only, found by the profile service before it erased
    them (sealed, like an e-mail named at receipt): the erasure of the event streams looks for it, and the
    gateway's own part blanks it. A request that already names an e-mail is left as it is."""
    with uow.begin() as repo:
        request = _load(repo, request_id)
        email = normalise_email(email)
        if request.subject.email or not email or request.settled:
            return request
        named = replace(request, subject=replace(request.subject, email=email))
        repo.privacy_requests.name_subject(named)
        return named


def erase_own_part(
    request_id: str, *, uow: GatewayUnitOfWork, clock: Clock, stream_messages: Mapping[str, int] | None = None
) -> dsr.PrivacyRequest:
    """The gateway's own part of an erasure, last of all: its clients anonymised, the subject's e-mail
    blanked in every request about them and their export bundles dropped, in one transaction; then the
    old row images are cleared from the database files. `stream_messages` are the messages the erasure of
    the event streams removed just before, per stream: counted in the part's found and erased, and named
    stream by stream in its audit record."""
    settled = _erase_own_rows(request_id, uow=uow, clock=clock, stream_messages=stream_messages)
    uow.forget_old_pages(OWN_TABLES)
    return settled


def _erase_own_rows(
    request_id: str, *, uow: GatewayUnitOfWork, clock: Clock, stream_messages: Mapping[str, int] | None
) -> dsr.PrivacyRequest:
    messages = sum((stream_messages or {}).values())
    with uow.begin() as repo:
        request = _load(repo, request_id)
        # The person's events keys: their fields sealed in outbox rows, the streams and backups stay unreadable.
        subject = request.subject
        sealed_events.shred_subject(subject.company_id, subject.profile_id, email=subject.email)
        erased = repo.own_data.erase(request.subject)
        forgotten = repo.privacy_requests.forget_subject(request.subject)
        answer = dsr.Answer(found=erased.found + messages, erased=erased.erased + forgotten + messages)
        settled = dsr.confirm(request, dsr.GATEWAY, answer, now=clock())
        settled = replace(settled, subject=replace(settled.subject, email=""))
        repo.privacy_requests.update(settled)
        entry = audit_entries.privacy_part_settled(settled, dsr.GATEWAY, stream_messages=stream_messages)
        repo.audit.append(entry)
        if settled.status is dsr.RequestStatus.COMPLETED:
            repo.events.record(events.subject_erased(settled))
        return settled


def _load(repo: GatewayRepository, request_id: str) -> dsr.PrivacyRequest:
    request = repo.privacy_requests.get(request_id)
    if request is None:
        raise PrivacyRequestNotFound("no such privacy request", metadata={"request_id": request_id})
    return request


def _check_request(command: ReceivePrivacyRequest, kind: dsr.RequestKind) -> None:
    violations = []
    if kind is dsr.RequestKind.ERASURE and not command.confirm:
        violations.append(FieldViolation("confirm", "must be true to erase data"))
    if not command.own and not command.reason.strip():
        violations.append(FieldViolation("reason", "is required (e.g. the data-subject request reference)"))
    if not command.own and not (command.profile_id.strip() or command.email.strip()):
        violations.append(FieldViolation("subject", "needs a profile id or an e-mail"))
    for field, value, limit in (
        ("subject.email", command.email, 254),
        ("subject.profile_id", command.profile_id, 64),
        ("reason", command.reason, 2000),
    ):
        if len(value.strip()) > limit:
            violations.append(FieldViolation(field, f"at most {limit} characters"))
    if violations:
        raise InvalidPrivacyRequest("the privacy request is incomplete", violations=violations)


def _subject_of(command: ReceivePrivacyRequest) -> dsr.DataSubject:
    """The subject within the caller's company; one's own data is found by the token's e-mail."""
    email = normalise_email(command.email)
    if command.own and not email:
        raise SubjectNotIdentified("the access token carries no e-mail to find your data by")
    profile_id = command.profile_id.strip() or profile_id_for_email(command.company_id, email)
    return dsr.DataSubject(command.company_id, profile_id, email)
