"""Backup and restore figures at size: `python -m tests.load.backup_bench --profiles 100000` builds a stopped
mesh's var folder (profile database with journeys and outbox events, the events on JetStream, a durable
consumer half-way through them), then times `backup.create`, `backup.verify` and `backup.restore`.
`--backend postgresql` keeps the profile database on PostgreSQL (tests/postgres.py finds the server)."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import sqlalchemy as sa
from nats.js import api as js_api

from services.cli.spec import free_port
from services.kit.messaging import eventbus
from services.kit.persistence import backup, backup_streams, db
from services.profile import bootstrap as profile_bootstrap
from tests import postgres

PASSPHRASE = b"benchmark passphrase only"
AT = "2026-01-05 09:30:00.000000"


def build_database(url: str, profiles: int) -> None:
    """`profiles` profiles, each with an enrolment, two counters, a milestone, a fact and an outbox event."""
    db.upgrade(url, profile_bootstrap.MIGRATIONS)
    engine = db.create_engine(url)
    ids = [str(uuid.UUID(int=n + 1)) for n in range(profiles)]
    owner = [{"c": "acme", "p": pid, "at": AT} for pid in ids]
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO profiles (profile_id, company_id, email, given_name, family_name, role, created_at,"
                " updated_at) VALUES (:p, 'acme', :email, 'Ada', 'Lovelace', 'participant', :at, :at)"
            ),
            [{**o, "email": f"p{n}@example.org"} for n, o in enumerate(owner)],
        )
        connection.execute(
            sa.text(
                "INSERT INTO profile_enrolments (company_id, profile_id, programme, status, start_at)"
                " VALUES (:c, :p, 'language', 'active', :at)"
            ),
            owner,
        )
        for name in ("language_sessions_completed", "buddy_checkins"):
            connection.execute(
                sa.text(
                    f"INSERT INTO profile_counters (company_id, profile_id, name, value) VALUES (:c, :p, '{name}', 3)"
                ),
                owner,
            )
        connection.execute(
            sa.text(
                "INSERT INTO profile_milestones (company_id, profile_id, kind, repeat_key, reached_at, detail)"
                " VALUES (:c, :p, 'first_language_session', '', :at, 'first session')"
            ),
            owner,
        )
        connection.execute(
            sa.text(
                "INSERT INTO profile_facts (company_id, profile_id, source, record_id, applied_at)"
                " VALUES (:c, :p, 'kintell', :record, :at)"
            ),
            [{**o, "record": f"session-{o['p']}"} for o in owner],
        )
        connection.execute(
            sa.text(
                "INSERT INTO outbox (event_id, event_type, envelope, created_at, published_at)"
                " VALUES (:p, 'profile.profile.created', :envelope, :at, :at)"
            ),
            [{**o, "envelope": b"x" * 200} for o in owner],
        )
    engine.dispose()


async def publish(url: str, events: int) -> None:
    """`events` events on the stream and a durable consumer that acknowledged the first half."""
    async with backup_streams.jetstream(url) as js:
        await eventbus.ensure_stream(js)
        await eventbus.ensure_dlq_stream(js)
        for start in range(0, events, 1000):
            acks = [
                js.publish("teei.events.profile.profile.created", b"x" * 200, headers={"Nats-Msg-Id": f"e{n}"})
                for n in range(start, min(start + 1000, events))
            ]
            await asyncio.gather(*acks)
        config = js_api.ConsumerConfig(durable_name="bench", ack_policy=js_api.AckPolicy.EXPLICIT)
        await js.add_consumer(eventbus.STREAM, config)
        psub = await js.pull_subscribe_bind(durable="bench", stream=eventbus.STREAM)
        left = events // 2
        while left > 0:
            messages = await psub.fetch(batch=min(1000, left), timeout=10)
            for msg in messages[:-1]:
                await msg.ack()
            await messages[-1].ack_sync()
            left -= len(messages)


def main() -> None:
    """Builds the folder, measures, prints the figures as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=None, help="stream events (default: one per profile)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    with ExitStack() as stack:
        postgres_urls: dict[str, str] = {}
        if args.backend == "postgresql":
            admin_url = stack.enter_context(postgres.admin_server())
            stamp = uuid.uuid4().hex[:8]
            names = {"profile": f"teei_bench_{stamp}", "restored": f"teei_bench_{stamp}_restored"}
            postgres_urls = stack.enter_context(postgres.databases(admin_url, names))
        print(json.dumps(measure(args.profiles, args.events or args.profiles, postgres_urls), indent=2))


def measure(profiles: int, events: int, postgres_urls: dict[str, str]) -> dict[str, object]:
    """Figures of one backup and restore of the profile database (PostgreSQL when `postgres_urls` names the
    source `profile` and the target `restored`, else SQLite)."""
    root = Path(tempfile.mkdtemp(prefix="teei-backup-bench-"))
    var = root / "var"
    var.mkdir()
    (var / "gateway-key-encryption.key").write_bytes(b"k" * 44)
    started = time.monotonic()
    source = {"profile": postgres_urls["profile"]} if postgres_urls else {}
    build_database(source.get("profile") or db.sqlite_url(var / "profile.db"), profiles)
    with backup_streams.private_server(var / "nats", free_port()) as url:
        asyncio.run(publish(url, events))
    figures: dict[str, object] = {"profiles": profiles, "build_seconds": round(time.monotonic() - started, 1)}
    figures["backend"] = "postgresql" if source else "sqlite"
    figures["var_bytes"] = sum(f.stat().st_size for f in var.rglob("*") if f.is_file())
    started = time.monotonic()
    folder = backup.create(backup.Source(var, None, source, free_port()), root / "backups", PASSPHRASE)
    figures["backup_seconds"] = round(time.monotonic() - started, 2)
    figures["backup_bytes"] = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    figures["backup_phases"] = backup.read_manifest(folder)["timings"]
    started = time.monotonic()
    assert backup.verify(folder, PASSPHRASE) == []
    figures["verify_seconds"] = round(time.monotonic() - started, 2)
    targets = {"profile": postgres_urls["restored"]} if source else {}
    started = time.monotonic()
    figures["restore_phases"] = backup.restore(
        folder, backup.Target(root / "restored", targets, free_port()), PASSPHRASE
    )
    figures["restore_seconds"] = round(time.monotonic() - started, 2)
    figures["folder"] = str(root)
    return figures


if __name__ == "__main__":
    main()
