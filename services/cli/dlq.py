"""`teei dlq list|show|replay|purge`: operator access to the dead-letter stream."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from typing import Any

import nats

from services.kit import deadletters

DEFAULT_NATS = "nats://127.0.0.1:4322"


def register(commands: Any) -> None:
    """Adds the `dlq` command to the `teei` parser."""
    dlq = commands.add_parser("dlq", help="inspect, replay or purge dead letters")
    dlq.add_argument("--nats-url", default=os.environ.get("NATS_URL", DEFAULT_NATS))
    actions = dlq.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="list dead letters, oldest first")
    for name in ("show", "replay"):
        action = actions.add_parser(name, help=f"{name} one dead letter")
        action.add_argument("sequence", type=int)
    purge = actions.add_parser("purge", help="drop every dead letter")
    purge.add_argument("--yes", action="store_true", required=True, help="confirm")
    dlq.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Runs one dlq action and prints its result as JSON lines."""
    actions: dict[str, Callable[[Any], Awaitable[Any]]] = {
        "list": deadletters.list_letters,
        "show": lambda js: deadletters.show(js, args.sequence),
        "replay": lambda js: deadletters.replay(js, args.sequence),
        "purge": deadletters.purge,
    }
    result = asyncio.run(_with_jetstream(args.nats_url, actions[args.action]))
    for item in result if isinstance(result, list) else [result]:
        print(json.dumps(_plain(item), sort_keys=True))
    return 0


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
        return fields
    return {"purged": item}
