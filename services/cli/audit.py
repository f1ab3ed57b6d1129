"""`teei audit verify|checkpoint`: checks a service's audit log (hash chain and signed checkpoints) straight
from its database, naming the first bad record; signs the chain's head on demand.

Every auditing service keeps its own log in its own database (`--service NAME`: var/NAME.db, or
`--database URL`); with neither, every service database found under the var folder is verified."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.cli import spec
from services.kit import config
from services.kit.audit import checkpoints
from services.kit.audit.settings import AuditConfig
from services.kit.audit.verify import Report, verify
from services.kit.persistence import db

SERVICES = ("gateway", "profile", "kintell", "buddy", "upskilling", "q2q", "safety")


def register(commands: Any) -> None:
    """Adds the `audit` command to the `teei` parser."""
    audit = commands.add_parser("audit", help="verify or checkpoint the tamper-evident audit logs")
    actions = audit.add_subparsers(dest="audit_command", required=True)
    for name, help_text, runner in (
        ("verify", "walk the hash chain and check every checkpoint; exit 1 naming the first bad record", run_verify),
        ("checkpoint", "sign the chain's head now", run_checkpoint),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("--service", choices=SERVICES, help="the service whose database to open (var/NAME.db)")
        action.add_argument("--database", help="a database URL instead (SQLite or PostgreSQL)")
        action.add_argument("--var-dir", type=Path, default=spec.REPO_ROOT / "var", help="the mesh's data folder")
        action.set_defaults(run=runner)


def run_verify(args: argparse.Namespace) -> int:
    """Verifies the chosen logs; 0 when every one holds, 1 at the first that does not."""
    targets = _targets(args)
    if not targets:
        print("teei: no audit log found (give --service or --database)", file=sys.stderr)
        return 2
    for name, url in targets:
        report = verify_database(url, args.var_dir.resolve())
        print(_line(name, report))
        if not report.ok:
            return 1
    return 0


def run_checkpoint(args: argparse.Namespace) -> int:
    """Signs the head of one service's log (the gateway's with its key ring, the others' with their key)."""
    targets = _targets(args)
    if len(targets) != 1 or args.service is None:
        print("teei: audit checkpoint needs --service (and --database when not var/NAME.db)", file=sys.stderr)
        return 2
    ((name, url),) = targets
    var_dir = args.var_dir.resolve()
    if name == "gateway":
        from services.gateway import bootstrap  # noqa: PLC0415 - opening the key ring migrates and loads the KEK

        gateway = bootstrap.open_gateway(url, var_dir)
        try:
            checkpointer = checkpoints.attached(gateway.engine)
            made = None if checkpointer is None else checkpointer.checkpoint(gateway.engine)
        finally:
            gateway.engine.dispose()
    else:
        engine = db.create_engine(url)
        try:
            made = checkpoints.hmac_checkpointer(os.environ, var_dir).checkpoint(engine)
        finally:
            engine.dispose()
    print(json.dumps({"service": name, "checkpoint": None if made is None else made.sequence}, sort_keys=True))
    return 0


def verify_database(url: str, var_dir: Path) -> Report:
    """Verifies the log in the database at `url`."""
    engine = db.create_engine(url)
    try:
        settings = config.load(AuditConfig, os.environ)
        with engine.connect() as connection:
            verifiers = checkpoints.Verifiers(checkpoints.read_key(settings.key, var_dir), _gateway_keys(connection))
            return verify(connection, verifiers)
    finally:
        engine.dispose()


def _targets(args: argparse.Namespace) -> list[tuple[str, str]]:
    if args.database:
        return [(args.service or "database", args.database)]
    var_dir = args.var_dir.resolve()
    if args.service:
        return [(args.service, db.sqlite_url(var_dir / f"{args.service}.db"))]
    return [(name, db.sqlite_url(var_dir / f"{name}.db")) for name in SERVICES if (var_dir / f"{name}.db").exists()]


def _gateway_keys(connection: sa.Connection) -> list[dict[str, Any]]:
    """The gateway's public keys when this is its database (its checkpoints are JWS), else none."""
    if not sa.inspect(connection).has_table("signing_keys"):
        return []
    found = connection.execute(sa.text("SELECT public_jwk FROM signing_keys")).scalars()
    return [json.loads(jwk) for jwk in found]


def _line(name: str, report: Report) -> str:
    if report.problem is not None:
        return f"{name}: FAILED at record {report.problem.sequence}: {report.problem.reason}"
    return f"{name}: ok, {report.records} records, {report.checkpoints} checkpoints, head {report.head[:16]}"
