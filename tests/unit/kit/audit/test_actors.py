"""The actor of an audit record comes from what the interceptors proved: the token's subject, a service's
SPIFFE id from its verified certificate, the CLI operator, else nobody."""

from __future__ import annotations

from services.kit.audit import actors
from services.kit.audit.records import Actor, ActorKind
from services.kit.security import tenancy
from services.kit.security.auth import Principal

SPIFFE = "spiffe://teei.local/ns/teei/sa/q2q"


def test_a_user_token_names_its_subject() -> None:
    with tenancy.bound_principal(Principal(subject="user:ada", tenant="acme", role="company_admin")):
        assert actors.current() == Actor(ActorKind.TOKEN, "user:ada")


def test_a_service_token_names_the_verified_certificate() -> None:
    caller = tenancy.ServiceCaller(identity=SPIFFE, tenant="acme")
    with tenancy.bound_principal(Principal(subject="q2q", tenant="acme", role="service")):
        assert actors.current() == Actor(ActorKind.SERVICE, "q2q")
        with tenancy.verified_caller(caller):
            assert actors.current() == Actor(ActorKind.SERVICE, SPIFFE)
    with tenancy.verified_caller(caller):
        assert actors.current() == Actor(ActorKind.SERVICE, SPIFFE)


def test_the_operator_applies_only_outside_an_authenticated_call() -> None:
    with actors.acting_as(actors.operator()) as operator:
        assert operator.kind is ActorKind.OPERATOR
        assert operator.id.startswith("cli:")
        assert actors.current() == operator
        with tenancy.bound_principal(Principal(subject="user:ada", tenant="acme", role="company_admin")):
            assert actors.current() == Actor(ActorKind.TOKEN, "user:ada")
    assert actors.current() == actors.UNKNOWN
