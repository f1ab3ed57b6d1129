"""Standard Webhooks: the published test vector, tampering, time window, rotation, the secrets file
re-read on change, and `teei webhooks secret add|list|remove`."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from services.cli import main as cli_main
from services.cli import webhooks as cli_webhooks
from services.kit.errors import Unauthenticated, Unavailable
from services.kit.security import webhooks
from services.kit.security.webhooks import StaticSecrets, WebhookRejected, WebhookVerifier

# The Standard Webhooks specification's own example.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
OLD_SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"n" * 32).decode()
NOW = 1_700_000_000


def _headers(signature: str, *, message_id: str = "msg_1", timestamp: int = NOW) -> dict[str, str]:
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def _signed(body: bytes, secret: str = NEW_SECRET, *, timestamp: int = NOW) -> dict[str, str]:
    return _headers(webhooks.sign(secret, "msg_1", timestamp, body), timestamp=timestamp)


def _reason(body: bytes, headers: dict[str, str], secrets: list[str], *, now: float = NOW) -> str:
    with pytest.raises(WebhookRejected) as caught:
        webhooks.verify(headers, body, secrets, now=now)
    assert isinstance(caught.value, Unauthenticated)
    return caught.value.reason


def test_published_test_vector_signs_and_verifies_with_the_clock_pinned() -> None:
    assert webhooks.sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
    headers = _headers(VECTOR_SIGNATURE, message_id=VECTOR_ID, timestamp=VECTOR_TIMESTAMP)
    delivery = webhooks.verify(headers, VECTOR_BODY, [VECTOR_SECRET], now=VECTOR_TIMESTAMP)
    assert delivery == webhooks.VerifiedDelivery(message_id=VECTOR_ID, timestamp=VECTOR_TIMESTAMP)


def test_header_names_are_case_insensitive() -> None:
    headers = {name.title(): value for name, value in _signed(b"{}").items()}
    assert webhooks.verify(headers, b"{}", [NEW_SECRET], now=NOW).message_id == "msg_1"


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b'{"a": 2}', _signed(b'{"a": 1}')),  # body changed
        (b'{"a": 1}', {**_signed(b'{"a": 1}'), "webhook-id": "msg_2"}),  # id changed
        (b'{"a": 1}', {**_signed(b'{"a": 1}'), "webhook-timestamp": str(NOW + 1)}),  # timestamp changed
        (b'{"a": 1} ', _signed(b'{"a": 1}')),  # one byte appended
    ],
)
def test_tampered_delivery_is_rejected(body: bytes, headers: dict[str, str]) -> None:
    assert _reason(body, headers, [NEW_SECRET]) == "WEBHOOK_SIGNATURE_INVALID"


def test_signature_with_an_unknown_secret_is_rejected() -> None:
    assert _reason(b"{}", _signed(b"{}", OLD_SECRET), [NEW_SECRET]) == "WEBHOOK_SIGNATURE_INVALID"


def test_expired_and_future_timestamps_are_rejected_at_five_minutes() -> None:
    assert _reason(b"{}", _signed(b"{}", timestamp=NOW - 301), [NEW_SECRET]) == "WEBHOOK_EXPIRED"
    assert _reason(b"{}", _signed(b"{}", timestamp=NOW + 301), [NEW_SECRET]) == "WEBHOOK_FROM_FUTURE"
    for edge in (NOW - 300, NOW + 300):
        assert webhooks.verify(_signed(b"{}", timestamp=edge), b"{}", [NEW_SECRET], now=NOW).timestamp == edge


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "WEBHOOK_UNSIGNED"),
        ({"webhook-id": "msg_1", "webhook-timestamp": str(NOW)}, "WEBHOOK_UNSIGNED"),
        (_headers(""), "WEBHOOK_UNSIGNED"),
        (_headers("v2,abc v1a,xyz"), "WEBHOOK_UNSIGNED"),
        (_headers("v1,AAAA", timestamp=0) | {"webhook-timestamp": "17e8"}, "WEBHOOK_TIMESTAMP_INVALID"),
        (_headers("v1,AAAA") | {"webhook-timestamp": "-5"}, "WEBHOOK_TIMESTAMP_INVALID"),
        (_headers("v1,AAAA", message_id="x" * 257), "WEBHOOK_ID_INVALID"),
        (_headers("v1,AAAA", message_id="has space"), "WEBHOOK_ID_INVALID"),
    ],
)
def test_unsigned_or_malformed_headers_are_rejected(headers: dict[str, str], reason: str) -> None:
    assert _reason(b"{}", headers, [NEW_SECRET]) == reason


def test_no_configured_secret_rejects_rather_than_accepts() -> None:
    assert _reason(b"{}", _signed(b"{}"), []) == "WEBHOOK_NO_SECRET"


def test_several_signatures_are_accepted_while_the_sender_rotates() -> None:
    body = b'{"event": 1}'
    old = webhooks.sign(OLD_SECRET, "msg_1", NOW, body)
    new = webhooks.sign(NEW_SECRET, "msg_1", NOW, body)
    headers = _headers(f"v2,ignored {old} {new}")
    assert webhooks.verify(headers, body, [NEW_SECRET], now=NOW).message_id == "msg_1"
    assert webhooks.verify(headers, body, [OLD_SECRET], now=NOW).message_id == "msg_1"


def test_verifier_accepts_every_secret_of_the_tenant_and_source_only() -> None:
    store = StaticSecrets({("acme", "kintell"): [OLD_SECRET, NEW_SECRET], ("globex", "kintell"): [VECTOR_SECRET]})
    verifier = WebhookVerifier(store, clock=lambda: NOW)
    for secret in (OLD_SECRET, NEW_SECRET):
        delivery = verifier.verify(tenant="acme", source="kintell", headers=_signed(b"{}", secret), body=b"{}")
        assert delivery.message_id == "msg_1"
    with pytest.raises(WebhookRejected) as cross_tenant:
        verifier.verify(tenant="globex", source="kintell", headers=_signed(b"{}", NEW_SECRET), body=b"{}")
    assert cross_tenant.value.reason == "WEBHOOK_SIGNATURE_INVALID"
    with pytest.raises(WebhookRejected) as other_source:
        verifier.verify(tenant="acme", source="buddy", headers=_signed(b"{}", NEW_SECRET), body=b"{}")
    assert other_source.value.reason == "WEBHOOK_NO_SECRET"


@pytest.mark.parametrize("secret", ["whsec_not base64!", "whsec_" + base64.b64encode(b"short").decode()])
def test_malformed_or_weak_secrets_are_refused(secret: str) -> None:
    with pytest.raises(ValueError, match="webhook secret"):
        webhooks.decode_secret(secret)


# Delivery headers and the signing side


def test_signed_headers_verify_and_carry_a_fresh_id_and_the_current_time() -> None:
    headers = webhooks.signed_headers(NEW_SECRET, b"{}")
    assert set(headers) == set(webhooks.SIGNATURE_HEADERS)
    assert headers["webhook-id"] != webhooks.signed_headers(NEW_SECRET, b"{}")["webhook-id"]
    assert webhooks.verify(headers, b"{}", [NEW_SECRET]).message_id == headers["webhook-id"]


def test_headers_are_read_from_call_metadata_ignoring_everything_else() -> None:
    signed = webhooks.signed_metadata(NEW_SECRET, b"{}", message_id="msg_1", timestamp=NOW)
    metadata: list[tuple[str, str | bytes]] = [("authorization", "Bearer t"), ("Webhook-Id", "msg_1")]
    metadata += [("x-bin", b"\x00"), *signed[1:]]
    assert webhooks.headers_from(metadata) == dict(signed)
    assert webhooks.headers_from(None) == {}
    twice = webhooks.headers_from([("webhook-signature", "v1,a"), ("webhook-signature", "v1,b")])
    assert twice == {"webhook-signature": "v1,a v1,b"}


def test_generated_secrets_are_strong_and_fingerprints_do_not_reveal_them() -> None:
    secret = webhooks.generate_secret()
    assert secret.startswith("whsec_")
    assert len(webhooks.decode_secret(secret)) == 32
    assert secret != webhooks.generate_secret()
    fingerprint = webhooks.fingerprint(secret)
    assert len(fingerprint) == 12
    assert fingerprint not in secret
    assert fingerprint == webhooks.fingerprint(secret)


# The secrets file


def _write(path: Path, document: object, mode: int = 0o600) -> None:
    path.write_text(json.dumps(document))
    path.chmod(mode)


def test_the_default_secrets_file_lives_in_the_var_folder_unless_configured(tmp_path: Path) -> None:
    assert webhooks.secrets_path(tmp_path, {}) == tmp_path / "secrets" / "webhook-secrets.json"
    given = tmp_path / "elsewhere.json"
    assert webhooks.secrets_path(tmp_path, {"TEEI_WEBHOOK_SECRETS_FILE": str(given)}) == given


def test_file_secrets_are_re_read_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    store = webhooks.FileSecrets(path)
    assert store.secrets_for("acme", "kintell") == ()  # no file yet: nothing is accepted
    _write(path, {"acme": {"kintell": [OLD_SECRET]}})
    assert store.secrets_for("acme", "kintell") == (OLD_SECRET,)
    _write(path, {"acme": {"kintell": [OLD_SECRET, NEW_SECRET]}, "globex": {"kintell": [VECTOR_SECRET]}})
    assert store.secrets_for("acme", "kintell") == (OLD_SECRET, NEW_SECRET)
    assert store.secrets_for("globex", "kintell") == (VECTOR_SECRET,)
    assert store.secrets_for("acme", "buddy") == ()
    path.unlink()
    assert store.secrets_for("acme", "kintell") == ()


@pytest.mark.parametrize("content", ["{not json", '["acme"]', '{"acme": ["x"]}', '{"acme": {"kintell": "whsec_x"}}'])
def test_a_malformed_secrets_file_fails_closed_until_fixed(tmp_path: Path, content: str) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(content)
    store = webhooks.FileSecrets(path)
    with pytest.raises(webhooks.WebhookSecretsUnavailable) as caught:
        store.secrets_for("acme", "kintell")
    assert isinstance(caught.value, Unavailable)
    _write(path, {"acme": {"kintell": [NEW_SECRET]}})
    assert store.secrets_for("acme", "kintell") == (NEW_SECRET,)


def test_an_undecodable_secret_is_skipped_and_never_logged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weak = "whsec_" + base64.b64encode(b"short").decode()
    path = tmp_path / "secrets.json"
    _write(path, {"acme": {"kintell": [weak, NEW_SECRET]}}, mode=0o644)
    assert webhooks.FileSecrets(path).secrets_for("acme", "kintell") == (NEW_SECRET,)
    logged = capsys.readouterr().out
    assert "webhooks.secret_skipped" in logged
    assert "webhooks.secrets_file_too_open" in logged
    assert weak not in logged
    assert NEW_SECRET not in logged


def test_the_verifier_names_the_missing_tenant_and_source() -> None:
    verifier = WebhookVerifier(StaticSecrets({}), clock=lambda: NOW)
    with pytest.raises(WebhookRejected) as caught:
        verifier.verify(tenant="acme", source="kintell", headers=_signed(b"{}"), body=b"{}")
    assert caught.value.reason == "WEBHOOK_NO_SECRET"
    assert "'kintell'" in caught.value.message


# `teei webhooks secret add|list|remove`


def test_added_secrets_are_written_atomically_with_mode_0600_and_listed_by_fingerprint(tmp_path: Path) -> None:
    path = webhooks.secrets_path(tmp_path / "var", {})
    first = cli_webhooks.add_secret(path, "acme", "kintell")
    second = cli_webhooks.add_secret(path, "acme", "kintell")
    imported = cli_webhooks.add_secret(path, "globex", "ecornell", VECTOR_SECRET)
    assert imported == VECTOR_SECRET
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text()) == {"acme": {"kintell": [first, second]}, "globex": {"ecornell": [imported]}}
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
    listed = cli_webhooks.list_secrets(path)
    assert [(x.tenant, x.source, x.fingerprint) for x in listed] == [
        ("acme", "kintell", webhooks.fingerprint(first)),
        ("acme", "kintell", webhooks.fingerprint(second)),
        ("globex", "ecornell", webhooks.fingerprint(imported)),
    ]


def test_removing_a_secret_by_fingerprint_is_seen_by_a_running_store_without_restart(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "webhook-secrets.json"
    old = cli_webhooks.add_secret(path, "acme", "buddy")
    store = webhooks.FileSecrets(path)
    assert store.secrets_for("acme", "buddy") == (old,)
    new = cli_webhooks.add_secret(path, "acme", "buddy")
    assert store.secrets_for("acme", "buddy") == (old, new)
    assert cli_webhooks.remove_secret(path, "acme", "buddy", webhooks.fingerprint(old)) == 1
    assert store.secrets_for("acme", "buddy") == (new,)
    assert cli_webhooks.remove_secret(path, "acme", "buddy", webhooks.fingerprint(old)) == 0
    cli_webhooks.remove_secret(path, "acme", "buddy", webhooks.fingerprint(new))
    assert json.loads(path.read_text()) == {}


@pytest.mark.parametrize(
    ("tenant", "source", "secret", "message"),
    [
        ("Acme", "kintell", None, "tenant"),
        ("acme\n", "kintell", None, "tenant"),
        ("acme ", "kintell", None, "tenant"),
        ("*", "kintell", None, "tenant"),
        ("acme", "slack", None, "source"),
        ("acme", "kintell", "whsec_" + base64.b64encode(b"short").decode(), "shorter"),
    ],
)
def test_bad_tenants_sources_and_weak_secrets_are_refused(
    tmp_path: Path, tenant: str, source: str, secret: str | None, message: str
) -> None:
    path = tmp_path / "secrets.json"
    with pytest.raises(ValueError, match=message):
        cli_webhooks.add_secret(path, tenant, source, secret)
    assert not path.exists()


def test_the_command_prints_a_new_secret_once_and_lists_only_fingerprints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    var = ["--var-dir", str(tmp_path)]
    assert _teei("webhooks", "secret", "add", "--tenant", "acme", "--source", "upskilling", *var) == 2
    assert _teei("webhooks", "secret", "add", "--tenant", "acme", "--source", "kintell", *var) == 0
    secret = capsys.readouterr().out.strip()
    assert webhooks.decode_secret(secret)
    assert _teei("webhooks", "secret", "list", *var) == 0
    listing = capsys.readouterr().out
    assert listing == f"acme\tkintell\t{webhooks.fingerprint(secret)}\n"
    assert secret not in listing
    fingerprint = ["--fingerprint", webhooks.fingerprint(secret)]
    assert _teei("webhooks", "secret", "remove", "--tenant", "acme", "--source", "kintell", *fingerprint, *var) == 0
    assert _teei("webhooks", "secret", "remove", "--tenant", "acme", "--source", "kintell", *fingerprint, *var) == 1
    assert cli_webhooks.list_secrets(webhooks.secrets_path(tmp_path, {})) == []


def _teei(*argv: str) -> int:
    with pytest.raises(SystemExit) as exited:
        cli_main.main(list(argv))
    return int(exited.value.code or 0)


@pytest.mark.parametrize("tenant", ["acme ", " ", "*", "%", "Acme", "acme\n"])
@pytest.mark.parametrize("command", ["add", "remove"])
def test_the_command_refuses_a_tenant_in_another_spelling_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tenant: str, command: str
) -> None:
    extra = ["--fingerprint", "0" * 16] if command == "remove" else []
    argv = [
        "webhooks",
        "secret",
        command,
        "--tenant",
        tenant,
        "--source",
        "kintell",
        *extra,
        "--var-dir",
        str(tmp_path),
    ]
    assert _teei(*argv) == 2
    assert "argument --tenant: must be 1-63 lower-case letters" in capsys.readouterr().err
    assert not webhooks.secrets_path(tmp_path, {}).exists()


@pytest.mark.parametrize("tenant", ["Acme", "acme ", "*", ""])
def test_a_secrets_file_naming_a_non_canonical_tenant_is_refused(tenant: str) -> None:
    document = json.dumps({tenant: {"kintell": [webhooks.generate_secret()]}})
    with pytest.raises(ValueError, match="not a tenant id"):
        webhooks.parse_secrets(document)
