"""`teei keys rotate|list`, `teei token mint` and `teei clients create|list`: operate on the gateway database."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from services.cli import pii, spec
from services.gateway import bootstrap, handlers, queries
from services.gateway.domain.commands import MintToken, RegisterClient, RotateKeys
from services.gateway.domain.keys import ALGORITHMS
from services.gateway.domain.tokens import ROLES
from services.kit import tenants
from services.kit.audit import actors
from services.kit.clock import utc_now
from services.kit.errors import DomainError
from services.kit.persistence import db

Runner = Callable[[argparse.Namespace, bootstrap.Gateway], int]


def register(subparsers: Any) -> None:
    """Adds the `keys`, `token` and `clients` commands to the `teei` parser."""
    keys = _group(subparsers, "keys", "the gateway's signing keys")
    rotate = _command(keys, "rotate", "promote next → active, retire active, publish a new next key", run_rotate)
    rotate.add_argument(
        "--algorithm",
        choices=ALGORITHMS,
        default=None,
        help="algorithm of the new next key (default TEEI_SIGNING_ALGORITHM)",
    )
    rotate.add_argument("--force", action="store_true", help="promote even if the next key is freshly published")
    rotate.add_argument(
        "--purpose",
        choices=("signing", "pii"),
        default="signing",
        help="signing: the gateway's token keys; pii: the keyring of the personal fields (`teei pii rotate`)",
    )
    _command(keys, "list", "every key with its state and whether the JWKS publishes it", run_list)
    token = _group(subparsers, "token", "development access tokens")
    mint = _command(token, "mint", "print a signed access token (development)", run_mint)
    mint.add_argument("--role", required=True, choices=sorted(ROLES))
    mint.add_argument("--tenant", type=tenants.argument, default=None, help="company id (not for super_admin)")
    mint.add_argument("--subject", default=None, help="token subject (default dev-<role>)")
    mint.add_argument("--email", default=None)
    mint.add_argument("--ttl", type=int, default=None, help="lifetime in seconds (at most 3600)")
    clients = _group(subparsers, "clients", "machine clients of the client-credentials grant")
    create = _command(clients, "create", "register a client and print its secret once", run_create_client)
    create.add_argument("--client-id", required=True)
    create.add_argument("--tenant", type=tenants.argument, required=True, help="company id")
    create.add_argument("--role", required=True, choices=("company_admin", "company_user", "service"))
    create.add_argument("--scope", action="append", default=[], help="a granted scope (repeatable)")
    listing = _command(clients, "list", "the clients of one company", run_list_clients)
    listing.add_argument("--tenant", type=tenants.argument, required=True, help="company id")


def _group(subparsers: Any, name: str, help_text: str) -> Any:
    parser = subparsers.add_parser(name, help=help_text)
    return parser.add_subparsers(dest=f"{name}_command", required=True)


def _command(group: Any, name: str, help_text: str, runner: Runner) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = group.add_parser(name, help=help_text)
    parser.add_argument("--var-dir", type=Path, default=spec.REPO_ROOT / "var", help="the mesh's data folder")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), help="default: var/gateway.db")
    parser.set_defaults(run=_guarded(runner))
    return parser


def _guarded(runner: Runner) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        if getattr(args, "purpose", "signing") == "pii":
            return pii.run_rotate(args)
        if getattr(args, "role", None) not in (None, "super_admin") and not args.tenant:
            print("teei: --tenant is required for this role", file=sys.stderr)
            return 2
        try:
            gateway = _open(args)
            try:
                with actors.acting_as(actors.operator()):
                    return runner(args, gateway)
            finally:
                gateway.engine.dispose()
        except DomainError as exc:
            print(f"teei: {exc.message}", file=sys.stderr)
            return 1

    return run


def _open(args: argparse.Namespace) -> bootstrap.Gateway:
    var_dir = args.var_dir.resolve()
    return bootstrap.open_gateway(args.database_url or db.sqlite_url(var_dir / f"{bootstrap.NAME}.db"), var_dir)


def run_rotate(args: argparse.Namespace, gateway: bootstrap.Gateway) -> int:
    """Rotates the key ring and prints it."""
    command = RotateKeys(algorithm=args.algorithm or gateway.algorithm, force=args.force)
    handlers.rotate_keys(command, uow=gateway.uow, sealer=gateway.sealer, policy=gateway.policy)
    return run_list(args, gateway)


def run_list(args: argparse.Namespace, gateway: bootstrap.Gateway) -> int:
    """Prints every key."""
    now = utc_now()
    print(f"{'kid':<44} {'alg':<6} {'state':<8} {'published':<9} created / activated / retired")
    for key in queries.list_keys(uow=gateway.uow):
        times = " / ".join(
            t.isoformat(timespec="seconds") if t else "-" for t in (key.created_at, key.activated_at, key.retired_at)
        )
        published = "yes" if key.is_published(now, gateway.policy) else "no"
        print(f"{key.kid:<44} {key.algorithm:<6} {key.state.value:<8} {published:<9} {times}")
    return 0


def run_mint(args: argparse.Namespace, gateway: bootstrap.Gateway) -> int:
    """Prints a signed development token."""
    command = MintToken(
        role=args.role,
        company_id=args.tenant,
        subject=args.subject or f"dev-{args.role}",
        email=args.email,
        lifetime=None if args.ttl is None else timedelta(seconds=args.ttl),
    )
    print(handlers.mint_token(command, uow=gateway.uow, keys=gateway.keys, settings=gateway.settings).access_token)
    return 0


def run_create_client(args: argparse.Namespace, gateway: bootstrap.Gateway) -> int:
    """Registers a client and prints its id and secret."""
    command = RegisterClient(client_id=args.client_id, company_id=args.tenant, role=args.role, scopes=tuple(args.scope))
    client, secret = handlers.register_client(command, uow=gateway.uow)
    print(f"client_id={client.client_id}\nclient_secret={secret}\n(the secret is shown once; it is stored hashed)")
    return 0


def run_list_clients(args: argparse.Namespace, gateway: bootstrap.Gateway) -> int:
    """Prints the clients of one company."""
    for client in queries.list_clients(args.tenant, uow=gateway.uow):
        state = "disabled" if client.disabled else "enabled"
        print(f"{client.client_id}\t{client.role}\t{' '.join(sorted(client.scopes))}\t{state}")
    return 0
