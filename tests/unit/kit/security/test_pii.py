"""Personal fields sealed at rest: the field cipher, the per-subject data keys and their shredding, the
blind indexes, and the keyring's rotation, re-wrap and retirement — on real SQLite key stores."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.kit.config import ConfigError, ServiceConfig, load
from services.kit.persistence import db
from services.kit.security import pii
from services.kit.security.pii import keyring as keyrings
from services.kit.security.pii.keystore import SubjectKeys, keystore_url
from services.kit.security.pii.maintenance import PiiMaintenance

FIELD, RECORD = "profiles.email", "p-1"


@pytest.fixture
def cipher(tmp_path: Path) -> Iterator[pii.PiiCipher]:
    made = pii.local(tmp_path, "svc")
    yield made
    made.close()


def _seal(cipher: pii.PiiCipher, value: str, subject: str = "p-1", record: str = RECORD) -> str:
    return cipher.seal(value, company_id="acme", subject=subject, field=FIELD, record=record)


def _second_reader(tmp_path: Path) -> pii.PiiCipher:
    """Another process's view of the same key store and keyring: nothing cached."""
    return pii.local(tmp_path, "svc")


def test_a_sealed_field_opens_to_its_value_and_holds_nothing_of_it(cipher: pii.PiiCipher) -> None:
    sealed = _seal(cipher, "ada@example.org")
    assert sealed.startswith(pii.cipher.PREFIX)
    assert "ada" not in sealed
    assert sealed != _seal(cipher, "ada@example.org")  # a fresh nonce every time
    assert cipher.open(sealed, field=FIELD, record=RECORD) == "ada@example.org"


def test_plain_text_from_before_sealing_reads_as_it_is_and_empty_stays_empty(cipher: pii.PiiCipher) -> None:
    assert cipher.open("ada@example.org", field=FIELD, record=RECORD) == "ada@example.org"
    assert _seal(cipher, "") == ""


@pytest.mark.parametrize(("field", "record"), [("profiles.given_name", RECORD), (FIELD, "p-2")])
def test_a_sealed_value_moved_to_another_field_or_record_does_not_open(
    cipher: pii.PiiCipher, field: str, record: str
) -> None:
    sealed = _seal(cipher, "ada@example.org")
    with pytest.raises(pii.FieldTampered):
        cipher.open(sealed, field=field, record=record)


def test_an_edited_sealed_value_does_not_open(cipher: pii.PiiCipher) -> None:
    sealed = _seal(cipher, "ada@example.org")
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(pii.FieldTampered):
        cipher.open(flipped, field=FIELD, record=RECORD)


def test_shredding_a_subject_makes_their_fields_unreadable_for_every_reader_and_spares_others(
    cipher: pii.PiiCipher, tmp_path: Path
) -> None:
    ada, bo = _seal(cipher, "ada@example.org"), _seal(cipher, "bo@example.org", subject="p-2", record="p-2")
    assert cipher.shred("acme", "p-1") == 1
    with pytest.raises(pii.SubjectErased):
        cipher.open(ada, field=FIELD, record=RECORD)
    later = _second_reader(tmp_path)
    try:
        with pytest.raises(pii.SubjectErased):
            later.open(ada, field=FIELD, record=RECORD)
        assert later.open(bo, field=FIELD, record="p-2") == "bo@example.org"
    finally:
        later.close()
    again = _seal(cipher, "ada@example.org")  # a person who comes back gets a new key; the old data stays gone
    assert again.split(".")[1] != ada.split(".")[1]
    with pytest.raises(pii.SubjectErased):
        cipher.open(ada, field=FIELD, record=RECORD)


def test_a_shredded_key_leaves_no_copy_in_the_key_store_file(cipher: pii.PiiCipher, tmp_path: Path) -> None:
    _seal(cipher, "ada@example.org")
    store = tmp_path / "keystore" / "svc.db"
    with db.create_engine(db.sqlite_url(store)).connect() as connection:
        wrapped = connection.exec_driver_sql("SELECT wrapped FROM pii_subject_keys").scalar_one()
    cipher.shred("acme", "p-1")
    files = [p for p in store.parent.iterdir() if p.name.startswith("svc.db")]
    assert all(wrapped not in p.read_bytes() for p in files), "the destroyed key is still in the key store's pages"


def test_blind_indexes_match_equal_values_per_company_and_kind(cipher: pii.PiiCipher) -> None:
    index = cipher.blind("acme", pii.EMAIL, "ada@example.org")
    assert index == cipher.blind("acme", pii.EMAIL, "ada@example.org")
    assert len(index) == 64
    assert "ada" not in index
    assert index != cipher.blind("globex", pii.EMAIL, "ada@example.org")
    assert index != cipher.blind("acme", "external:kintell", "ada@example.org")


def test_two_key_stores_creating_one_subjects_key_at_once_agree_on_it(tmp_path: Path) -> None:
    ciphers = [_second_reader(tmp_path) for _ in range(4)]
    sealed: list[str] = []

    def seal(c: pii.PiiCipher) -> None:
        sealed.append(_seal(c, "ada@example.org"))

    threads = [threading.Thread(target=seal, args=(c,)) for c in ciphers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len({s.split(".")[1] for s in sealed}) == 1
        assert {c.open(s, field=FIELD, record=RECORD) for c in ciphers for s in sealed} == {"ada@example.org"}
    finally:
        for c in ciphers:
            c.close()


def test_rotation_under_traffic_keeps_everything_readable_then_rewrap_moves_every_key(tmp_path: Path) -> None:
    """Writers and readers run while the keyring rotates twice; afterwards every value opens, the
    re-wrap leaves every data key on the active KEK, the old KEKs retire and a fresh reader still opens all."""
    cipher = pii.local(tmp_path, "svc")
    written: dict[str, str] = {}
    failures: list[BaseException] = []
    stop = threading.Event()

    def traffic(worker: int) -> None:
        n = 0
        while not stop.is_set() or n < 50:
            subject = f"w{worker}-{n}"
            try:
                sealed = _seal(cipher, f"{subject}@example.org", subject=subject, record=subject)
                assert cipher.open(sealed, field=FIELD, record=subject) == f"{subject}@example.org"
                written[subject] = sealed
            except BaseException as exc:  # reported below, so a failure in a thread fails the test
                failures.append(exc)
                return
            n += 1

    threads = [threading.Thread(target=traffic, args=(w,)) for w in range(3)]
    for thread in threads:
        thread.start()
    path = tmp_path / keyrings.KEYRING_FILE
    first = keyrings.parse(path.read_text()).active
    rotated = [keyrings.rotate(path), keyrings.rotate(path)]
    cipher.keys.keyring.reload()
    stop.set()
    for thread in threads:
        thread.join()
    assert failures == []
    while cipher.keys.rewrap(batch=50):
        pass
    assert cipher.keys.usage() == {rotated[-1]: len(written)}
    for old in (first, rotated[0]):
        keyrings.retire(path, old)
    fresh = _second_reader(tmp_path)
    try:
        assert all(fresh.open(s, field=FIELD, record=k) == f"{k}@example.org" for k, s in written.items())
    finally:
        fresh.close()
        cipher.close()


def test_a_key_wrapped_by_a_retired_kek_says_so(tmp_path: Path) -> None:
    cipher = pii.local(tmp_path, "svc")
    sealed = _seal(cipher, "ada@example.org")
    path = tmp_path / keyrings.KEYRING_FILE
    old = keyrings.parse(path.read_text()).active
    keyrings.rotate(path)
    keyrings.retire(path, old)  # too early: no re-wrap ran
    cipher.close()
    fresh = _second_reader(tmp_path)
    try:
        with pytest.raises(pii.KeyringError, match="not in the keyring"):
            fresh.open(sealed, field=FIELD, record=RECORD)
    finally:
        fresh.close()


def test_the_active_kek_or_an_unknown_one_cannot_be_retired(tmp_path: Path) -> None:
    path = tmp_path / keyrings.KEYRING_FILE
    keyrings.ensure_file(path)
    active = keyrings.parse(path.read_text()).active
    with pytest.raises(pii.KeyringError, match="active"):
        keyrings.retire(path, active)
    with pytest.raises(pii.KeyringError, match="not in the keyring"):
        keyrings.retire(path, "pii-unknown")


def test_the_keyring_file_is_private_and_a_running_source_sees_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / keyrings.KEYRING_FILE
    keyrings.ensure_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    source = pii.KeyringSource(path=path)
    rotated = keyrings.rotate(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert source.reload().active == rotated


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("not json", "malformed"),
        ('{"active": "a", "index_key": "AAAA", "keys": []}', "32 bytes"),
        ('{"active": "a", "keys": [{"id": "a", "key": "%s"}]}', "malformed"),
        ('{"active": "b", "index_key": "%s", "keys": [{"id": "a", "key": "%s"}]}', "not in the keyring"),
    ],
)
def test_a_malformed_keyring_is_refused_saying_what_is_wrong(document: str, problem: str) -> None:
    key = "A" * 43
    text = document.replace("%s", key)
    with pytest.raises(pii.KeyringError, match=problem):
        keyrings.parse(text)


def test_a_keyring_given_as_a_document_is_used_as_it_is(tmp_path: Path) -> None:
    document = json.dumps(keyrings.new_keyring().document())
    source = pii.KeyringSource(text=document)
    keys = SubjectKeys.open(keystore_url(tmp_path, "svc"), source)
    try:
        sealed = pii.PiiCipher(keys).seal("x", company_id="acme", subject="s", field="f", record="r")
        assert pii.PiiCipher(keys).open(sealed, field="f", record="r") == "x"
    finally:
        keys.dispose()


def test_maintenance_seals_until_nothing_is_left_then_only_rewraps(tmp_path: Path) -> None:
    cipher = pii.local(tmp_path, "svc")
    left = [500, 500, 120]
    calls: list[int] = []

    def seal_batch() -> int:
        calls.append(1)
        return left.pop(0) if left else 0

    maintenance = PiiMaintenance(cipher, seal_batch, interval=60)
    try:
        _seal(cipher, "ada@example.org")
        assert maintenance.run_once() == (1120, 0)
        assert len(calls) == 4
        keyrings.rotate(tmp_path / keyrings.KEYRING_FILE)
        cipher.keys.keyring.reload()
        assert maintenance.run_once() == (0, 1)  # the one data key moved to the new KEK; no scan for plain rows
        assert len(calls) == 4
    finally:
        cipher.close()


async def test_maintenance_runs_in_the_background_and_stops(tmp_path: Path) -> None:
    cipher = pii.local(tmp_path, "svc")
    ran = asyncio.Event()

    def seal_batch() -> int:
        ran.set()
        return 0

    maintenance = PiiMaintenance(cipher, seal_batch, interval=60)
    try:
        maintenance.start()
        await asyncio.wait_for(ran.wait(), 10)
        await maintenance.stop()
    finally:
        cipher.close()


def test_a_cluster_service_refuses_to_start_without_its_keyring_and_key_store(tmp_path: Path) -> None:
    """TEEI_PII_KEYSTORE_REQUIRED (the prod manifests set it): never keys generated into a pod's var/."""
    environ = {"TEEI_GRPC_PORT": "1", "TEEI_VAR_DIR": str(tmp_path), "TEEI_PII_KEYSTORE_REQUIRED": "true"}
    with pytest.raises(ConfigError, match="TEEI_PII_KEYSTORE_URL"):
        pii.cipher_for(load(ServiceConfig, environ), "svc")
    keystore = {**environ, "TEEI_PII_KEYSTORE_URL": keystore_url(tmp_path, "svc")}
    with pytest.raises(ConfigError, match="no PII keyring"):
        pii.cipher_for(load(ServiceConfig, keystore), "svc")
    assert not (tmp_path / keyrings.KEYRING_FILE).exists()
    keyrings.ensure_file(tmp_path / keyrings.KEYRING_FILE)  # mounted from the Secret
    pii.cipher_for(load(ServiceConfig, keystore), "svc").close()


def test_preloaded_keys_open_their_fields_without_the_key_store_and_a_destroyed_one_stays_erased(
    cipher: pii.PiiCipher, tmp_path: Path
) -> None:
    """A chunk of rows' keys read at once: opening the rows afterwards needs no key store at all."""
    sealed = [_seal(cipher, f"p{i}@example.org", subject=f"p-{i}", record=f"r-{i}") for i in range(7)]
    cipher.shred("acme", "p-3")
    reader = _second_reader(tmp_path)
    try:
        reader.keys.preload([value.split(".")[1] for value in sealed] + ["0" * 32])
        reader.keys.dispose()
        store = tmp_path / "keystore" / "svc.db"
        store.rename(tmp_path / "away.db")
        for i, value in enumerate(sealed):
            if i == 3:
                with pytest.raises(pii.SubjectErased):
                    reader.open(value, field=FIELD, record=f"r-{i}")
            else:
                assert reader.open(value, field=FIELD, record=f"r-{i}") == f"p{i}@example.org"
    finally:
        reader.close()
