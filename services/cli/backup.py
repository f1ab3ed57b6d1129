"""`teei backup create|list|verify|restore|drill`: backups of the whole mesh (docs/data/backup-restore.md).

The key material is encrypted with TEEI_BACKUP_PASSPHRASE, which every command but `list` needs."""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from services.cli import spec
from services.kit.persistence import backup, backup_crypto, backup_databases


def register(commands: Any) -> None:
    """Adds the `backup` command to the `teei` parser."""
    parser = commands.add_parser("backup", help="back up, verify, restore and drill the mesh's data")
    parser.add_argument("--var-dir", type=Path, default=spec.REPO_ROOT / "var", help="the mesh's data folder")
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="a consistent backup of the running (or stopped) mesh")
    _source_options(create)
    listing = actions.add_parser("list", help="the backups in a folder, oldest first")
    listing.add_argument("--to", type=Path, default=None, help="backup folder (default <var-dir>/backups)")
    verify = actions.add_parser("verify", help="check a backup's seal, files and tables without restoring")
    verify.add_argument("backup", type=Path)
    restore = actions.add_parser("restore", help="restore a verified backup into an empty var folder")
    restore.add_argument("backup", type=Path)
    _database_option(restore, "empty PostgreSQL database(s) to restore the dumps into", default=None)
    restore.add_argument(
        "--keystore-from",
        type=Path,
        default=None,
        help="the live key store folder (var/keystore of the lost mesh, or its replica): the people's data keys "
        "are never in a backup, so sealed personal fields read only with it (docs/privacy/encryption.md)",
    )
    drill = actions.add_parser("drill", help="create, restore into a scratch folder, start a second mesh, compare")
    _source_options(drill)
    drill.add_argument("--scratch", type=Path, default=None, help="scratch folder (default: a new temporary one)")
    drill.add_argument(
        "--restore-database-url",
        action="append",
        default=[],
        metavar="[SERVICE=]URL",
        help="empty PostgreSQL database(s) the drill restores into and starts the second mesh on",
    )
    parser.set_defaults(run=run)


def _source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", type=Path, default=None, help="backup folder (default <var-dir>/backups)")
    parser.add_argument("--nats-url", default=None, help="the mesh's NATS (default: from <var-dir>/mesh.json)")
    _database_option(parser, "the services' PostgreSQL databases to dump", default=os.environ.get("DATABASE_URL"))


def _database_option(parser: argparse.ArgumentParser, what: str, *, default: str | None) -> None:
    parser.add_argument(
        "--database-url",
        action="append",
        default=[],
        metavar="[SERVICE=]URL",
        help=f"{what}: SERVICE=URL (repeated), a URL with {{service}} (one database per service), or one URL "
        f"the services share" + (" (default: DATABASE_URL)" if default else ""),
    )
    parser.set_defaults(database_url_default=default)


_NAMED = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*)=(.+)$")


def database_urls(values: list[str], services: list[str]) -> dict[str, str]:
    """`--database-url` values as URLs by service: `NAME=URL` names one service's database, a URL holding
    `{service}` expands to one database per service of the mesh, and a plain URL is the database all services
    share (named `postgres` in the backup)."""
    urls: dict[str, str] = {}
    for value in values:
        if named := _NAMED.match(value):
            urls[named.group(1)] = named.group(2)
        elif "{service}" in value:
            urls.update({service: value.replace("{service}", service) for service in services})
        else:
            urls[spec.SHARED_DATABASE] = value
    return urls


def _urls_of(args: argparse.Namespace, values: list[str]) -> dict[str, str]:
    default = getattr(args, "database_url_default", None)
    return database_urls(values or ([default] if default else []), spec.service_names(spec.load()))


def run(args: argparse.Namespace) -> int:
    """Runs one `backup` action; problems go to stderr with a non-zero exit."""
    var_dir: Path = args.var_dir.resolve()
    try:
        if args.action == "list":
            return _list(args.to or var_dir / "backups")
        passphrase = backup_crypto.passphrase_from(os.environ)
        if args.action == "create":
            folder = backup.create(source_of(args, var_dir), args.to or var_dir / "backups", passphrase)
            print(folder)
            return 0
        if args.action == "verify":
            return _verify(args.backup, passphrase)
        if args.action == "restore":
            target = backup.Target(
                var_dir, _urls_of(args, args.database_url), spec.free_port(), keystore_from=args.keystore_from
            )
            print(
                json.dumps({"restored_into": str(var_dir), "seconds": backup.restore(args.backup, target, passphrase)})
            )
            return 0
        from services.cli import backup_drill  # noqa: PLC0415 - the drill pulls in the launcher

        targets = database_urls(args.restore_database_url, spec.service_names(spec.load()))
        return backup_drill.run(args, source_of(args, var_dir), passphrase, targets)
    except (backup.BackupError, backup_crypto.BackupCryptoError, backup_databases.DatabaseBackupError) as exc:
        print(f"teei backup {args.action}: {exc}", file=sys.stderr)
        return 1


def source_of(args: argparse.Namespace, var_dir: Path) -> backup.Source:
    """The mesh to back up: its NATS from --nats-url or from mesh.json while it answers, else a private server."""
    nats_url = args.nats_url or running_nats(var_dir)
    return backup.Source(var_dir, nats_url, _urls_of(args, args.database_url), spec.free_port())


def running_nats(var_dir: Path) -> str | None:
    """The NATS URL of the mesh running on `var_dir`, when var/mesh.json names one that accepts connections."""
    try:
        state = json.loads((var_dir / "mesh.json").read_text())
        port = int(state["resources"]["nats"]["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return None
    return f"nats://127.0.0.1:{port}"


def _list(folder: Path) -> int:
    for path in backup.list_backups(folder):
        document = backup.read_manifest(path)
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        print(f"{path.name}  {document['created_at']}  {size / 1e6:.1f} MB  {len(document['databases'])} databases")
    return 0


def _verify(folder: Path, passphrase: bytes) -> int:
    problems = backup.verify(folder, passphrase)
    for problem in problems:
        print(f"teei backup verify: {folder.name}: {problem}", file=sys.stderr)
    if not problems:
        print(f"{folder.name}: intact")
    return 1 if problems else 0


def interval(text: str) -> float:
    """`90s`, `30m`, `1h`, `1d` (or plain seconds) as seconds; argparse type of `teei up --backup-every`."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    try:
        seconds = float(number) * units[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an interval: {text!r} (e.g. 30m, 1h)") from None
    if seconds < 60:
        raise argparse.ArgumentTypeError("backups at most once a minute")
    return seconds


def passphrase_set() -> bool:
    """True when TEEI_BACKUP_PASSPHRASE holds a usable passphrase."""
    try:
        backup_crypto.passphrase_from(os.environ)
    except backup_crypto.BackupCryptoError:
        return False
    return True


def schedule(var_dir: Path, *, every: float, keep: int, stop: threading.Event, nats_url: str) -> threading.Thread:
    """Backs the running mesh up every `every` seconds into <var-dir>/backups, keeping the newest `keep`."""
    passphrase = backup_crypto.passphrase_from(os.environ)

    def loop() -> None:
        while not stop.wait(every):
            try:
                folder = backup.create(backup.Source(var_dir, nats_url), var_dir / "backups", passphrase)
                backup.prune(var_dir / "backups", keep=keep)
                print(f"teei up: backup {folder.name}", flush=True)
            except Exception as exc:  # a failed backup is reported and retried at the next tick
                print(f"teei up: backup failed: {exc}", file=sys.stderr, flush=True)

    thread = threading.Thread(target=loop, name="scheduled-backups", daemon=True)
    thread.start()
    return thread
