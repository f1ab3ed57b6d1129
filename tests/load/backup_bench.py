"""Backup and restore figures at size: `python -m tests.load.backup_bench --profiles 100000` builds a stopped
mesh's var folder (profile database with journeys and outbox events, the events on JetStream, a durable
consumer half-way through them), then times `backup.create`, `backup.verify` and `backup.restore`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

from nats.js import api as js_api

from services.cli.spec import free_port
from services.kit.messaging import eventbus
from services.kit.persistence import backup, backup_streams, db
from services.profile import bootstrap as profile_bootstrap

PASSPHRASE = b"benchmark passphrase only"
AT = "2026-01-05 09:30:00.000000"


def build_database(path: Path, profiles: int) -> None:
    """`profiles` profiles, each with an enrolment, two counters, a milestone, a fact and an outbox event."""
    db.upgrade(db.sqlite_url(path), profile_bootstrap.MIGRATIONS)
    connection = sqlite3.connect(path)
    ids = [str(uuid.UUID(int=n + 1)) for n in range(profiles)]
    with connection:
        connection.executemany(
            "INSERT INTO profiles (profile_id, company_id, email, given_name, family_name, role, created_at,"
            " updated_at) VALUES (?, 'acme', ?, 'Ada', 'Lovelace', 'participant', ?, ?)",
            [(pid, f"p{n}@example.org", AT, AT) for n, pid in enumerate(ids)],
        )
        owner = [("acme", pid) for pid in ids]
        connection.executemany(
            "INSERT INTO profile_enrolments (company_id, profile_id, programme, status, start_at)"
            " VALUES (?, ?, 'language', 'active', '" + AT + "')",
            owner,
        )
        for name in ("language_sessions_completed", "buddy_checkins"):
            connection.executemany(
                f"INSERT INTO profile_counters (company_id, profile_id, name, value) VALUES (?, ?, '{name}', 3)", owner
            )
        connection.executemany(
            "INSERT INTO profile_milestones (company_id, profile_id, kind, repeat_key, reached_at, detail)"
            " VALUES (?, ?, 'first_language_session', '', '" + AT + "', 'first session')",
            owner,
        )
        connection.executemany(
            "INSERT INTO profile_facts (company_id, profile_id, source, record_id, applied_at)"
            " VALUES (?, ?, 'kintell', ?, '" + AT + "')",
            [(c, p, f"session-{p}") for c, p in owner],
        )
        connection.executemany(
            "INSERT INTO outbox (event_id, event_type, envelope, created_at, published_at) VALUES (?, ?, ?, ?, ?)",
            [(pid, "profile.profile.created", b"x" * 200, AT, AT) for pid in ids],
        )
    connection.close()


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
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="teei-backup-bench-"))
    var = root / "var"
    var.mkdir()
    (var / "gateway-key-encryption.key").write_bytes(b"k" * 44)
    started = time.monotonic()
    build_database(var / "profile.db", args.profiles)
    with backup_streams.private_server(var / "nats", free_port()) as url:
        asyncio.run(publish(url, args.events or args.profiles))
    figures: dict[str, object] = {"profiles": args.profiles, "build_seconds": round(time.monotonic() - started, 1)}
    figures["source_bytes"] = sum(f.stat().st_size for f in var.rglob("*") if f.is_file())
    started = time.monotonic()
    folder = backup.create(backup.Source(var, None, None, free_port()), root / "backups", PASSPHRASE)
    figures["backup_seconds"] = round(time.monotonic() - started, 2)
    figures["backup_bytes"] = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    figures["backup_phases"] = backup.read_manifest(folder)["timings"]
    started = time.monotonic()
    assert backup.verify(folder, PASSPHRASE) == []
    figures["verify_seconds"] = round(time.monotonic() - started, 2)
    started = time.monotonic()
    figures["restore_phases"] = backup.restore(folder, backup.Target(root / "restored", None, free_port()), PASSPHRASE)
    figures["restore_seconds"] = round(time.monotonic() - started, 2)
    figures["folder"] = str(root)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
