"""The read side: the key ring and the machine clients as operators list them."""

from __future__ import annotations

from services.gateway.domain.clients import Client
from services.gateway.domain.keys import SigningKey
from services.gateway.repository import GatewayUnitOfWork


def list_keys(*, uow: GatewayUnitOfWork) -> list[SigningKey]:
    """Every key, newest first."""
    with uow.read() as repo:
        return repo.keys.all()


def list_clients(company_id: str, *, uow: GatewayUnitOfWork) -> list[Client]:
    """The clients of one company, by id."""
    with uow.read() as repo:
        return repo.clients.list(company_id=company_id)
