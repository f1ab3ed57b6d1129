"""`teei dlq list|show|replay|purge`: operator access to the dead-letter stream.

Directly on NATS (`--nats-url`, on the machine that runs it), or through the edge's admin RPCs
(`--edge URL --token T`, a super admin's token; TEEI_TOKEN is read when --token is not given so the
token need not appear in the process list). A replay or purge on NATS is recorded in the gateway's
audit log under the operator (`cli:<user>`) when the gateway's database is there (`--var-dir`,
`--database-url`); through the edge the gateway records it under the token's subject."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import nats

from services.cli import spec
from services.gateway.operations import audit_wire
from services.kit.audit import actors
from services.kit.audit.records import AuditEntry
from services.kit.audit.trail import AuditLog
from services.kit.messaging import deadletters
from services.kit.persistence import db

DEFAULT_NATS = "nats://127.0.0.1:4322"
ADMIN_PATH = "/v1/admin/dead-letters"


def register(commands: Any) -> None:
    """Adds the `dlq` command to the `teei` parser."""
    dlq = commands.add_parser("dlq", help="inspect, replay or purge dead letters")
    dlq.add_argument("--nats-url", default=os.environ.get("NATS_URL", DEFAULT_NATS))
    dlq.add_argument("--edge", help="edge URL: go through the admin RPCs instead of NATS")
    dlq.add_argument("--token", default=os.environ.get("TEEI_TOKEN"), help="super admin access token (--edge)")
    dlq.add_argument("--var-dir", type=Path, default=spec.REPO_ROOT / "var", help="where the gateway's database is")
    dlq.add_argument("--database-url", default=None, help="the gateway's database (default: var/gateway.db)")
    actions = dlq.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="list dead letters, oldest first")
    listing.add_argument("--consumer", help="only this consumer's dead letters")
    for name in ("show", "replay"):
        action = actions.add_parser(name, help=f"{name} one dead letter")
        action.add_argument("sequence", type=int)
    purge = actions.add_parser("purge", help="drop every dead letter")
    purge.add_argument("--yes", action="store_true", required=True, help="confirm")
    purge.add_argument("--consumer", help="only this consumer's dead letters")
    dlq.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Runs one dlq action and prints its result as JSON lines."""
    if args.edge:
        if not args.token:
            raise SystemExit("teei dlq --edge needs --token or TEEI_TOKEN")
        items = list(_through_edge(args))
    else:
        items = _on_nats(args)
    for item in items:
        print(json.dumps(item, sort_keys=True))
    return 0


def _on_nats(args: argparse.Namespace) -> list[Any]:
    consumer = getattr(args, "consumer", None)

    async def listing(js: Any) -> list[deadletters.DeadLetter]:
        if consumer is None:
            return await deadletters.list_letters(js)
        return (await deadletters.page(js, consumer=consumer)).letters

    actions: dict[str, Callable[[Any], Awaitable[Any]]] = {
        "list": listing,
        "show": lambda js: deadletters.show(js, args.sequence),
        "replay": lambda js: deadletters.replay(js, args.sequence),
        "purge": lambda js: deadletters.purge(js, consumer=consumer),
    }
    result = asyncio.run(_with_jetstream(args.nats_url, actions[args.action]))
    if args.action == "replay":
        _audited(args, audit_wire.replayed(result))
    elif args.action == "purge":
        _audited(args, audit_wire.purged(consumer, result))
    return [_plain(item) for item in (result if isinstance(result, list) else [result])]


def _audited(args: argparse.Namespace, entry: AuditEntry) -> None:
    """Records an operation done straight on NATS in the gateway's audit log, under the operator."""
    url = args.database_url
    if url is None:
        path = args.var_dir.resolve() / "gateway.db"
        if not path.exists():
            print(f"teei dlq: not audited: no gateway database at {path} (give --var-dir)", file=sys.stderr)
            return
        url = db.sqlite_url(path)
    engine = db.create_engine(url)
    try:
        with actors.acting_as(actors.operator()):
            AuditLog(db.UnitOfWork(engine)).record(entry)
    finally:
        engine.dispose()


async def _with_jetstream(url: str, action: Callable[[Any], Awaitable[Any]]) -> Any:
    nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=2)
    try:
        return await action(nc.jetstream())
    finally:
        await nc.close()


def _plain(item: Any) -> Any:
    if isinstance(item, deadletters.DeadLetter):
        fields = dict(vars(item))
        fields["data_bytes"] = len(fields.pop("data"))
        fields["time"] = item.time.isoformat() if item.time else None
        return fields
    return {"purged": item}


def _through_edge(args: argparse.Namespace) -> Iterator[Any]:
    headers = {"authorization": f"Bearer {args.token}"}
    with httpx.Client(base_url=args.edge, headers=headers, timeout=30.0) as client:
        if args.action == "list":
            yield from _pages(client, getattr(args, "consumer", None))
        elif args.action == "show":
            yield _answer(client.get(f"{ADMIN_PATH}/{args.sequence}"))
        elif args.action == "replay":
            yield _answer(client.post(f"{ADMIN_PATH}/{args.sequence}:replay", json={}))["dead_letter"]
        else:
            body = {"confirm": True, "consumer": args.consumer or ""}
            yield {"purged": int(_answer(client.post(f"{ADMIN_PATH}:purge", json=body)).get("purged_count", 0))}


def _pages(client: httpx.Client, consumer: str | None) -> Iterator[Any]:
    params = {"consumer": consumer} if consumer else {}
    while True:
        page = _answer(client.get(ADMIN_PATH, params=params))
        yield from page.get("dead_letters", [])
        if not page.get("next_page_token"):
            return
        params = {**params, "page_token": page["next_page_token"]}


def _answer(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise SystemExit(f"teei dlq: HTTP {response.status_code}: {response.text}")
    answer: dict[str, Any] = response.json()
    return answer
