"""`teei webhooks secret add|list|remove`: the per (tenant, source) Standard Webhooks secrets file.

The file is rewritten atomically (temporary file, fsync, rename) with mode 0600; services re-read it
when it changes, so adding a secret, then removing the old one once the sender switched, rotates
without a restart. Secrets are printed once, by `add`, and never listed.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.buddy.domain import webhooks as buddy_webhooks
from services.cli import spec
from services.kintell.domain import webhooks as kintell_webhooks
from services.kit import tenants
from services.kit.security import webhooks
from services.upskilling.domain.model import Provider

# Each connector's name for its webhook sources; upskilling signs per provider.
SOURCES: tuple[str, ...] = (kintell_webhooks.SOURCE, buddy_webhooks.SOURCE, *(p.value for p in Provider))


@dataclass(frozen=True)
class Listed:
    """One accepted secret, named by its fingerprint only."""

    tenant: str
    source: str
    fingerprint: str


def read_table(path: Path) -> webhooks.SecretTable:
    """The secrets file's content (empty when the file does not exist)."""
    try:
        return webhooks.parse_secrets(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def write_table(path: Path, table: webhooks.SecretTable) -> None:
    """Replaces the file atomically with mode 0600; its mtime always moves forward so readers notice."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    previous = path.stat().st_mtime_ns if path.exists() else 0
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            json.dump(_pruned(table), handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        stamp = max(time.time_ns(), previous + 1)
        os.utime(temporary, ns=(stamp, stamp))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_dir(path.parent)


def add_secret(path: Path, tenant: str, source: str, secret: str | None = None) -> str:
    """Adds a secret (a new random one unless given) for (tenant, source) and returns it."""
    _check(tenant, source)
    secret = secret or webhooks.generate_secret()
    webhooks.decode_secret(secret)  # refuse a malformed or weak secret before storing it
    with _locked(path):
        table = read_table(path)
        listed = table.setdefault(tenant, {}).setdefault(source, [])
        if secret not in listed:
            listed.append(secret)
        write_table(path, table)
    return secret


def remove_secret(path: Path, tenant: str, source: str, fingerprint: str) -> int:
    """Removes the secrets of (tenant, source) with this fingerprint; returns how many were removed."""
    _check(tenant, source)
    with _locked(path):
        table = read_table(path)
        listed = table.get(tenant, {}).get(source, [])
        kept = [s for s in listed if _fingerprint(s) != fingerprint]
        if len(kept) != len(listed):
            table[tenant][source] = kept
            write_table(path, table)
        return len(listed) - len(kept)


def list_secrets(path: Path) -> list[Listed]:
    """Every accepted secret by tenant, source and fingerprint, never the secret itself."""
    table = read_table(path)
    return [
        Listed(tenant, source, _fingerprint(secret))
        for tenant, sources in sorted(table.items())
        for source, listed in sorted(sources.items())
        for secret in listed
    ]


def provision(var_dir: Path, tenant: str, source: str, secret: str | None = None) -> str:
    """Writes a secret for (tenant, source) into the secrets file of the mesh in `var_dir` (tests, e2e)."""
    return add_secret(webhooks.secrets_path(var_dir), tenant, source, secret)


def _check(tenant: str, source: str) -> None:
    if not tenants.is_tenant(tenant):
        raise ValueError(f"tenant must be {tenants.GRAMMAR}")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}")


def _fingerprint(secret: str) -> str:
    try:
        return webhooks.fingerprint(secret)
    except ValueError:
        return "invalid"


def _pruned(table: webhooks.SecretTable) -> webhooks.SecretTable:
    pruned = {tenant: {s: listed for s, listed in sources.items() if listed} for tenant, sources in table.items()}
    return {tenant: sources for tenant, sources in pruned.items() if sources}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialises read-modify-write between concurrent `teei webhooks` runs."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "a", encoding="utf-8") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        yield


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# The command line

Runner = Callable[[argparse.Namespace], int]


def register(subparsers: Any) -> None:
    """Adds `teei webhooks secret add|list|remove` to the `teei` parser."""
    group = subparsers.add_parser("webhooks", help="signed webhooks: per (tenant, source) secrets")
    secret = group.add_subparsers(dest="webhooks_command", required=True).add_parser(
        "secret", help="the secrets a source signs its deliveries with"
    )
    commands = secret.add_subparsers(dest="secret_command", required=True)
    add = _command(commands, "add", "add a secret (printed once); the existing ones stay valid", run_add)
    _target(add)
    add.add_argument("--stdin", action="store_true", help="read a secret the source issued from stdin")
    _command(commands, "list", "tenants, sources and secret fingerprints (never the secrets)", run_list)
    remove = _command(commands, "remove", "stop accepting the secret with this fingerprint", run_remove)
    _target(remove)
    remove.add_argument("--fingerprint", required=True, help="as shown by `teei webhooks secret list`")


def _command(group: Any, name: str, help_text: str, runner: Runner) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = group.add_parser(name, help=help_text)
    parser.add_argument("--var-dir", type=Path, default=spec.REPO_ROOT / "var", help="the mesh's data folder")
    parser.add_argument("--file", type=Path, default=None, help="default: TEEI_WEBHOOK_SECRETS_FILE or var")
    parser.set_defaults(run=_guarded(runner))
    return parser


def _target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", type=tenants.argument, required=True, help="company id")
    parser.add_argument("--source", required=True, choices=SOURCES, help="the connector's source")


def _guarded(runner: Runner) -> Runner:
    def run(args: argparse.Namespace) -> int:
        try:
            return runner(args)
        except (ValueError, OSError) as exc:
            print(f"teei: {exc}", file=sys.stderr)
            return 1

    return run


def _path(args: argparse.Namespace) -> Path:
    return args.file if args.file is not None else webhooks.secrets_path(args.var_dir.resolve())


def run_add(args: argparse.Namespace) -> int:
    """Prints the added secret once."""
    given = sys.stdin.readline().strip() if args.stdin else None
    secret = add_secret(_path(args), args.tenant, args.source, given)
    fingerprint = webhooks.fingerprint(secret)
    if given:
        print(f"added secret {fingerprint} for {args.tenant}/{args.source}")
    else:
        print(secret)
        print(f"added secret {fingerprint} for {args.tenant}/{args.source}; it is not shown again", file=sys.stderr)
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Prints tenant, source and fingerprint of every accepted secret."""
    for item in list_secrets(_path(args)):
        print(f"{item.tenant}\t{item.source}\t{item.fingerprint}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    """Removes a secret by fingerprint; exit 1 when none matched."""
    removed = remove_secret(_path(args), args.tenant, args.source, args.fingerprint)
    if not removed:
        print(f"teei: no secret {args.fingerprint} for {args.tenant}/{args.source}", file=sys.stderr)
        return 1
    print(f"removed secret {args.fingerprint} for {args.tenant}/{args.source}")
    return 0
