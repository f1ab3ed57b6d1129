"""Backups against real SQLite, PostgreSQL and NATS JetStream: a restore gives back every table as the
manifest describes it, every consumer at its first unacknowledged event, the key material decrypted; one
altered byte anywhere refuses the backup naming the file; no secret is stored in the clear."""

from __future__ import annotations

import asyncio
import base64
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from nats.js import api as js_api

from services.cli.spec import free_port
from services.kit.messaging import eventbus, store_encryption
from services.kit.persistence import backup, backup_manifest, backup_streams, db
from services.profile import bootstrap as profile_bootstrap
from tests import postgres

PASSPHRASE = b"correct horse battery staple"
KEY_BYTES = b"very-secret-key-material-0123456789"
CONSUMER = "backup-test-consumer"


def _profiles(url: str, count: int) -> None:
    db.upgrade(url, profile_bootstrap.MIGRATIONS)
    engine = db.create_engine(url)
    rows = [
        {
            "profile_id": str(uuid.UUID(int=n)),
            "company_id": "acme",
            "email": f"p{n}@example.org",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "role": "participant",
            "created_at": "2026-01-05T09:30:00+00:00",
            "updated_at": "2026-01-05T09:30:00+00:00",
        }
        for n in range(count)
    ]
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(_insert_profile()), rows)
    finally:
        engine.dispose()


def _insert_profile() -> str:
    return (
        "INSERT INTO profiles (profile_id, company_id, email, given_name, family_name, role, created_at, updated_at)"
        " VALUES (:profile_id, :company_id, :email, :given_name, :family_name, :role, :created_at, :updated_at)"
    )


async def _events(url: str, published: int, acked: int) -> None:
    """`published` events on the stream; a durable consumer that acknowledged the first `acked`."""
    async with backup_streams.jetstream(url) as js:
        await eventbus.ensure_stream(js)
        await eventbus.ensure_dlq_stream(js)
        for n in range(published):
            await js.publish(
                f"teei.events.test.thing.done.{n % 2}", f"event-{n}".encode(), headers={"Nats-Msg-Id": f"e{n}"}
            )
        await js.publish("teei.dlq.some-consumer", b"dead", headers={"Teei-Consumer": "some-consumer"})
        config = js_api.ConsumerConfig(
            durable_name=CONSUMER, filter_subjects=["teei.events.>"], ack_policy=js_api.AckPolicy.EXPLICIT
        )
        await js.add_consumer(eventbus.STREAM, config)
        psub = await js.pull_subscribe_bind(durable=CONSUMER, stream=eventbus.STREAM)
        for msg in await psub.fetch(batch=acked, timeout=5):
            await msg.ack_sync()


async def _remaining(url: str) -> list[bytes]:
    """What the restored consumer still delivers."""
    async with backup_streams.jetstream(url) as js:
        psub = await js.pull_subscribe_bind(durable=CONSUMER, stream=eventbus.STREAM)
        info = await psub.consumer_info()
        messages = await psub.fetch(batch=max(info.num_pending, 1), timeout=5) if info.num_pending else []
        dlq = await js.stream_info(eventbus.DLQ_STREAM)
        return [m.data for m in messages] + [b"dlq"] * dlq.state.messages


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A stopped mesh's var folder: a service database, key material and JetStream data."""
    var = tmp_path / "var"
    (var / "mtls").mkdir(parents=True)
    (var / "mtls" / "ca.key").write_bytes(KEY_BYTES)
    (var / "logs").mkdir()
    _profiles(db.sqlite_url(var / "profile.db"), 25)
    with backup_streams.private_server(var / "nats", free_port()) as url:
        asyncio.run(_events(url, published=10, acked=4))
    return var


def test_a_restore_gives_back_tables_key_material_and_pending_events(source: Path, tmp_path: Path) -> None:
    folder = backup.create(backup.Source(source, private_nats_port=free_port()), tmp_path / "backups", PASSPHRASE)
    assert backup.verify(folder, PASSPHRASE) == []
    document = backup.read_manifest(folder)
    assert document["databases"]["profile"]["tables"]["profiles"]["rows"] == 25
    latest = max(p.name.split("_")[0] for p in (profile_bootstrap.MIGRATIONS / "versions").glob("0*.py"))
    assert document["databases"]["profile"]["heads"] == {"profile": [latest]}
    assert document["streams"] == {eventbus.STREAM: 10, eventbus.DLQ_STREAM: 1}

    target = tmp_path / "restored"
    backup.restore(folder, backup.Target(target, private_nats_port=free_port()), PASSPHRASE)

    assert (target / "mtls" / "ca.key").read_bytes() == KEY_BYTES
    restored = backup_manifest.sqlite_tables(target / "profile.db")
    assert backup_manifest.table_differences(document["databases"]["profile"]["tables"], restored) == []
    with backup_streams.private_server(target / "nats", free_port()) as url:
        remaining = asyncio.run(_remaining(url))
    assert remaining == [f"event-{n}".encode() for n in range(4, 10)] + [b"dlq"]


def _stored(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_the_streams_stay_encrypted_at_rest_with_the_key_that_travels_in_the_key_material(
    source: Path, tmp_path: Path
) -> None:
    """The private server encrypts as `teei up` does; the store key is key material, so the restored store
    is written with the key the restored mesh will read it with."""
    assert b"event-5" not in _stored(source / "nats")
    folder = backup.create(backup.Source(source, private_nats_port=free_port()), tmp_path / "backups", PASSPHRASE)
    exported = (folder / "streams" / f"{eventbus.STREAM}.jsonl").read_bytes()
    assert base64.b64encode(b"event-5") in exported  # the server decrypts what it serves
    target = tmp_path / "restored"
    backup.restore(folder, backup.Target(target, private_nats_port=free_port()), PASSPHRASE)
    key_file = store_encryption.KEY_FILE
    assert (target / key_file).read_bytes() == (source / key_file).read_bytes()
    assert b"event-5" not in _stored(target / "nats")


def test_a_private_server_with_another_key_refuses_rather_than_serve_a_store_without_its_streams(
    source: Path,
) -> None:
    environ = {store_encryption.KEY_VARIABLE: "another-key-of-forty-characters-0123456"}
    server = backup_streams.private_server(source / "nats", free_port(), environ=environ)
    with pytest.raises(RuntimeError, match="cannot decrypt the JetStream store"), server:
        pass


def test_no_secret_is_stored_in_the_clear(source: Path, tmp_path: Path) -> None:
    folder = backup.create(backup.Source(source, private_nats_port=free_port()), tmp_path / "backups", PASSPHRASE)
    for path in folder.rglob("*"):
        if path.is_file():
            assert KEY_BYTES not in path.read_bytes(), path.name


@pytest.mark.parametrize(
    "name", ["manifest.json", "manifest.seal", "secrets.enc", "databases/profile.db", "streams/TEEI_EVENTS.jsonl"]
)
def test_one_altered_byte_in_any_file_refuses_the_backup_naming_the_file(
    source: Path, tmp_path: Path, name: str
) -> None:
    folder = backup.create(backup.Source(source, private_nats_port=free_port()), tmp_path / "backups", PASSPHRASE)
    path = folder / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    problems = backup.verify(folder, PASSPHRASE)
    assert problems
    assert Path(name).name in problems[0]
    target = tmp_path / "restored"
    with pytest.raises(backup.BackupError, match=re.escape(Path(name).name)):
        backup.restore(folder, backup.Target(target, private_nats_port=free_port()), PASSPHRASE)
    assert not target.exists()


def test_a_wrong_passphrase_is_refused(source: Path, tmp_path: Path) -> None:
    folder = backup.create(backup.Source(source, private_nats_port=free_port()), tmp_path / "backups", PASSPHRASE)
    assert backup.verify(folder, b"another passphrase entirely") != []


def test_a_restore_refuses_a_folder_that_is_not_empty(source: Path, tmp_path: Path) -> None:
    folder = backup.create(backup.Source(source, private_nats_port=free_port()), tmp_path / "backups", PASSPHRASE)
    with pytest.raises(backup.BackupError, match="not empty"):
        backup.restore(folder, backup.Target(source, private_nats_port=free_port()), PASSPHRASE)


def test_pruning_keeps_the_newest(source: Path, tmp_path: Path) -> None:
    made = [
        backup.create(backup.Source(source, private_nats_port=free_port()), tmp_path / "b", PASSPHRASE)
        for _ in range(3)
    ]
    assert backup.prune(tmp_path / "b", keep=2) == made[:1]
    assert backup.list_backups(tmp_path / "b") == made[1:]


@pytest.fixture
def postgres_mesh(postgres_admin_url: str, tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], dict[str, str]]]:
    """A stopped mesh's var folder and two services' PostgreSQL databases (profile with 40 profiles, gateway
    empty), and two empty databases to restore them into."""
    stamp = uuid.uuid4().hex[:10]
    names = {f"{kind}:{service}": f"teei_{kind}_{service}_{stamp}" for kind in ("src", "dst") for service in SERVICES}
    with postgres.databases(postgres_admin_url, names) as urls:
        source = {s: urls[f"src:{s}"] for s in SERVICES}
        _profiles(source["profile"], 40)
        var = tmp_path / "var"
        var.mkdir()
        yield var, source, {s: urls[f"dst:{s}"] for s in SERVICES}


SERVICES = ("profile", "gateway")


def test_each_service_database_on_postgresql_is_dumped_and_restored_with_equal_tables(
    postgres_mesh: tuple[Path, dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    var, source, targets = postgres_mesh
    folder = backup.create(backup.Source(var, None, source, free_port()), tmp_path / "backups", PASSPHRASE)
    assert backup.verify(folder, PASSPHRASE) == []
    document = backup.read_manifest(folder)
    assert {n: d["file"] for n, d in document["databases"].items()} == {
        "gateway": "databases/gateway.dump",
        "profile": "databases/profile.dump",
    }
    assert document["databases"]["profile"]["tables"]["profiles"]["rows"] == 40

    with pytest.raises(backup.BackupError, match=re.escape("databases/profile.dump (--database-url profile=URL)")):
        backup.restore(folder, backup.Target(tmp_path / "half", {"gateway": targets["gateway"]}), PASSPHRASE)
    backup.restore(folder, backup.Target(tmp_path / "restored", targets, free_port()), PASSPHRASE)
    for service in SERVICES:
        restored = backup_manifest.postgres_tables(targets[service])
        assert backup_manifest.table_differences(document["databases"][service]["tables"], restored) == []
        assert backup_manifest.postgres_tables(source[service]) == restored
    with pytest.raises(backup.BackupError, match="not empty"):
        backup.restore(folder, backup.Target(tmp_path / "again", targets, free_port()), PASSPHRASE)


def test_one_altered_byte_in_a_postgresql_dump_refuses_the_backup_naming_the_dump(
    postgres_mesh: tuple[Path, dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    var, source, targets = postgres_mesh
    folder = backup.create(backup.Source(var, None, source, free_port()), tmp_path / "backups", PASSPHRASE)
    dump = folder / "databases" / "profile.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0x01
    dump.write_bytes(bytes(data))

    assert backup.verify(folder, PASSPHRASE) == ["databases/profile.dump: SHA-256 differs from the manifest"]
    with pytest.raises(backup.BackupError, match=re.escape("databases/profile.dump")):
        backup.restore(folder, backup.Target(tmp_path / "restored", targets, free_port()), PASSPHRASE)
    assert backup_manifest.postgres_tables(targets["profile"]) == {}
