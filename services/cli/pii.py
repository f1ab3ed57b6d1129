"""`teei pii keys|rotate|rewrap|retire|seal|unseal`: the keyring of the personal fields sealed at rest
(docs/privacy/encryption.md). `teei keys rotate --purpose pii` is `teei pii rotate`."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

from services.cli import erd, spec
from services.kit.config import ServiceConfig, load
from services.kit.messaging import sealed_events
from services.kit.persistence import db
from services.kit.security import pii
from services.kit.security.pii import keyring as keyrings
from services.kit.security.pii.keystore import KEYSTORE_DIR, SubjectKeys, keystore_url

# Services whose personal fields are sealed: those with a `sealing` module (seal_batch / unseal_batch).
SEALING = tuple(sorted(name for name in erd.SERVICES if importlib.util.find_spec(f"services.{name}.sealing")))


def register(commands: Any) -> None:
    """Adds `teei pii ...` to the `teei` parser."""
    parser = commands.add_parser("pii", help="the PII keyring: rotate, re-wrap, retire; seal or unseal a service")
    actions = parser.add_subparsers(dest="pii_command", required=True)
    for name, help_text, runner in (
        ("keys", "the key-encryption keys and how many data keys each service's key store wraps with each", run_keys),
        (
            "rotate",
            "add a key-encryption key and make it active (running services re-wrap in the background)",
            run_rotate,
        ),
        ("rewrap", "re-wrap every data key still wrapped by an older key-encryption key now", run_rewrap),
        ("retire", "remove a key-encryption key that no data key uses any more", run_retire),
        ("seal", "seal every row of a service still in plain text now (the online migration, in one go)", run_seal),
        ("unseal", "write a service's sealed rows back in plain text (before downgrading below sealing)", run_unseal),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("--var-dir", type=Path, default=spec.REPO_ROOT / "var", help="the mesh's data folder")
        if name == "retire":
            action.add_argument("kek_id", help="the key-encryption key to remove")
        if name in ("seal", "unseal"):
            action.add_argument("--service", choices=SEALING, required=True)
            action.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), help="default var/NAME.db")
        action.set_defaults(run=runner)


def _config(args: argparse.Namespace) -> ServiceConfig:
    environ = {**os.environ, "TEEI_GRPC_PORT": "0", "TEEI_VAR_DIR": str(args.var_dir.resolve())}
    return load(ServiceConfig, environ)


def _keyring_file(args: argparse.Namespace) -> Path:
    config = _config(args)
    if config.pii_keyring:
        raise SystemExit("teei pii: the keyring comes from TEEI_PII_KEYRING: rotate it where that secret is kept")
    path = pii.keyring_path(config)
    keyrings.ensure_file(path)
    return path


def _stores(args: argparse.Namespace) -> dict[str, SubjectKeys]:
    """The key store of every service that has one."""
    config, source = _config(args), pii.keyring_source(_config(args))
    if config.pii_keystore_url:
        stores = {name: SubjectKeys.open(keystore_url(config.var_dir, name, config.pii_keystore_url), source)
                  for name in SEALING}  # fmt: skip
        if config.events_keystore_url:  # the events key store every service shares (sealed_events.py)
            stores[sealed_events.KEYSTORE] = SubjectKeys.open(config.events_keystore_url, source)
        return stores
    folder = config.var_dir / KEYSTORE_DIR
    return {path.stem: SubjectKeys.open(db.sqlite_url(path), source) for path in sorted(folder.glob("*.db"))}


def run_keys(args: argparse.Namespace) -> int:
    """Prints the KEKs, the active one, and each service's data keys per KEK."""
    keyring = keyrings.parse(_keyring_file(args).read_text())
    usage = _usage(args)
    keys = [
        {"id": k, "created": keyring.created.get(k, ""), "data_keys": {s: u.get(k, 0) for s, u in usage.items()}}
        for k in keyring.keks
    ]
    print(json.dumps({"active": keyring.active, "keys": keys}, indent=2))
    return 0


def run_rotate(args: argparse.Namespace) -> int:
    """Adds a KEK and makes it active; prints its id."""
    print(json.dumps({"active": keyrings.rotate(_keyring_file(args))}))
    return 0


def run_rewrap(args: argparse.Namespace) -> int:
    """Re-wraps every stale data key of every key store now."""
    moved: dict[str, int] = {}
    for name, store in _stores(args).items():
        try:
            moved[name] = 0
            while n := store.rewrap():
                moved[name] += n
        finally:
            store.dispose()
    print(json.dumps({"rewrapped": moved}))
    return 0


def run_retire(args: argparse.Namespace) -> int:
    """Removes a KEK, refused while any key store still has a data key it wraps."""
    using = {name: u[args.kek_id] for name, u in _usage(args).items() if u.get(args.kek_id)}
    if using:
        print(f"teei pii retire: {args.kek_id} still wraps data keys {using}: run `teei pii rewrap`", file=sys.stderr)
        return 1
    try:
        keyrings.retire(_keyring_file(args), args.kek_id)
    except keyrings.KeyringError as exc:
        print(f"teei pii retire: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"retired": args.kek_id}))
    return 0


def run_seal(args: argparse.Namespace) -> int:
    """Seals what is left plain in the service's database."""
    return _batches(args, seal=True)


def run_unseal(args: argparse.Namespace) -> int:
    """Writes the service's sealed rows back in plain text."""
    return _batches(args, seal=False)


def _batches(args: argparse.Namespace, *, seal: bool) -> int:
    config = _config(args)
    engine = db.create_engine(args.database_url or db.sqlite_url(config.var_dir / f"{args.service}.db"))
    cipher = pii.cipher_for(config, args.service)
    sealing = importlib.import_module(f"services.{args.service}.sealing")
    step = sealing.seal_batch if seal else sealing.unseal_batch
    total = 0
    try:
        sessions = db.UnitOfWork(engine)
        while True:
            with sessions.begin() as session:
                n = step(session, cipher)
            if not n:
                break
            total += n
    finally:
        engine.dispose()
        cipher.close()
    print(json.dumps({"service": args.service, "sealed" if seal else "unsealed": total}))
    return 0


def _usage(args: argparse.Namespace) -> dict[str, dict[str, int]]:
    stores = _stores(args)
    try:
        return {name: store.usage() for name, store in stores.items()}
    finally:
        for store in stores.values():
            store.dispose()
