"""One function per command: load → call the domain → commit (one unit of work); signing reads the key ring."""

from __future__ import annotations

from dataclasses import replace

from services.gateway.domain import audit as audit_entries
from services.gateway.domain import clients as client_rules
from services.gateway.domain import keys as ring
from services.gateway.domain.clients import Client
from services.gateway.domain.commands import IssueToken, MintToken, RegisterClient, RotateKeys
from services.gateway.domain.errors import (
    ClientExists,
    InvalidClient,
    InvalidTarget,
    InvalidTokenRequest,
    UnsupportedGrantType,
)
from services.gateway.domain.keys import KeyPolicy, KeyState, SigningKey
from services.gateway.domain.sso import Identity
from services.gateway.domain.tokens import AccessClaims, IssuedToken, TokenSettings, access_claims
from services.gateway.keys.crypto import generate
from services.gateway.keys.ring import KeyRing
from services.gateway.keys.sealing import KeySealer
from services.gateway.repository import DuplicateClient, GatewayUnitOfWork
from services.kit.audit.records import Actor, ActorKind
from services.kit.clock import Clock, utc_now


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
    return _audited(_issued(keys.sign(claims), claims), uow=uow, actor=Actor(ActorKind.CLIENT, client.client_id))


def mint_token(
    command: MintToken, *, uow: GatewayUnitOfWork, keys: KeyRing, settings: TokenSettings, clock: Clock = utc_now
) -> IssuedToken:
    """A development token for any role and tenant (operators only: it needs the key ring itself)."""
    claims = access_claims(
        subject=command.subject,
        role=command.role,
        company=command.company_id,
        email=command.email,
        scopes=(),
        settings=replace(settings, lifetime=command.lifetime or settings.lifetime),
        now=clock(),
    )
    return _audited(_issued(keys.sign(claims), claims), uow=uow, action="token.minted")


def sign_in(
    identity: Identity, *, uow: GatewayUnitOfWork, keys: KeyRing, settings: TokenSettings, clock: Clock = utc_now
) -> IssuedToken:
    """An access token for a user whose identity an SSO provider proved; tenant and role come from the mapping."""
    claims = access_claims(
        subject=identity.subject,
        role=identity.role,
        company=identity.tenant,
        email=identity.email,
        scopes=(),
        settings=settings,
        now=clock(),
    )
    actor = Actor(ActorKind.USER, identity.subject)
    return _audited(_issued(keys.sign(claims), claims), uow=uow, action="sign_in.completed", actor=actor)


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


def _audited(
    issued: IssuedToken, *, uow: GatewayUnitOfWork, action: str = "token.issued", actor: Actor | None = None
) -> IssuedToken:
    """Records the issue before the token is handed out: no token leaves without its audit record."""
    with uow.begin() as repo:
        repo.audit.append(audit_entries.token_issued(action, issued.claims, actor))
    return issued


def _issued(token: str, claims: AccessClaims) -> IssuedToken:
    lifetime = claims["exp"] - claims["iat"]
    return IssuedToken(access_token=token, expires_in=lifetime, scope=claims.get("scope", ""), claims=claims)
